/** The public links to a chat's page and a message's permalink: the API, the payloads and the e-mails build them here. */
export const chatUrl = (publicUrl: string, chatId: number | string) => `${publicUrl}/chat/${chatId}/messages/`;
export const permalinkUrl = (publicUrl: string, uuid: string) => `${publicUrl}/permalink/${uuid}/`;
