import { ApiError } from "../../api/errors";
import { sessions } from "../../api/session";

/**
 * Downloads `/export/calls.csv?<query>`. The endpoint needs the Authorization header, which a plain
 * link cannot send, so the file is fetched and handed to the browser as a blob.
 */
export async function downloadCallsCsv(query: string): Promise<void> {
  const url = `/export/calls.csv${query ? `?${query}` : ""}`;
  const fetchWith = async (token: string) => fetch(url, { headers: { authorization: `Bearer ${token}` } });
  let response = await fetchWith(await sessions.accessToken());
  if (response.status === 401) {
    const error = await errorOf(response);
    if (error.code !== "TOKEN_EXPIRED") throw error;
    response = await fetchWith((await sessions.refresh()).accessToken);
  }
  if (!response.ok) throw await errorOf(response);
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `calls-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-")}.csv`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

async function errorOf(response: Response): Promise<ApiError> {
  try {
    return ApiError.fromGraphql((await response.json()).errors);
  } catch {
    return new ApiError("INTERNAL", `export failed with HTTP ${response.status}`);
  }
}
