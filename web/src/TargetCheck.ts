import { api } from "./api.js";
import type { TargetProblem } from "./types.js";

/**
 * What the server's delivery rule says of a URL as it is entered (`POST …/check-target`):
 * a blocked or invalid target is refused next to the field; a host that does not resolve is a
 * warning the person may save past (`warned`: the URL they were already warned about).
 */
export async function judgeTarget(
  url: string,
  warned: string | undefined,
): Promise<{ error?: string; warning?: string }> {
  let problem: TargetProblem | null;
  try {
    problem = (
      await api<{ ok: boolean; problem: TargetProblem | null }>("POST", "/api/v1/webhooks/check-target", { url })
    ).problem;
  } catch {
    // The check is advice: when it cannot be asked, saving goes on and deliveries tell.
    return {};
  }
  if (!problem) return {};
  if (problem.code === "DNS_FAILURE") return warned === url ? {} : { warning: problem.message };
  return { error: problem.message };
}
