/**
 * Calls to the HTTP API with the signed-in token. Errors arrive as
 * {@link ApiError} with the API's code and message; a 401 anywhere also
 * tells the app, which returns to the sign-in form.
 */

/** An answer other than 2xx, with the API's code and message (`NETWORK` when the server was not reached). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Where {@link Api} gets the token, and whom it tells about a 401. */
export interface ApiOptions {
  /** Called on any 401 (the token was refused or is missing). */
  onUnauthorized(message: string): void;
  token(): string | null;
}

/** How many times a 429 is waited out before the error is shown. */
const RATE_LIMIT_RETRIES = 2;

/** JSON calls to the API, with the token; a 429 is waited out twice (at most 5 s each) before it is an error. */
export class Api {
  constructor(private readonly options: ApiOptions) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    const token = this.options.token();
    return { accept: "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, signal);
  }

  post<T>(path: string): Promise<T> {
    return this.request<T>("POST", path);
  }

  delete(path: string): Promise<void> {
    return this.request<void>("DELETE", path);
  }

  private async request<T>(method: string, path: string, signal?: AbortSignal): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(path, { cache: "no-store", credentials: "omit", headers: this.headers(), method, signal: signal ?? null });
      } catch (error) {
        if ((error as Error).name === "AbortError") throw error;
        throw new ApiError(0, "NETWORK", "The server cannot be reached: is offload start running?");
      }
      if (response.status === 204) return undefined as T;
      const text = await response.text();
      if (response.ok) return JSON.parse(text) as T;
      let code = `HTTP_${response.status}`;
      let message = `${method} ${path}: HTTP ${response.status}`;
      try {
        const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
        if (body.error?.code) code = body.error.code;
        if (body.error?.message) message = body.error.message;
      } catch {
        // not the API's error format (a proxy's page): the status says enough
      }
      if (response.status === 429 && attempt < RATE_LIMIT_RETRIES) {
        const wait = Math.min(5, Number(response.headers.get("retry-after")) || 1);
        await new Promise((resolve) => setTimeout(resolve, wait * 1_000));
        continue;
      }
      if (response.status === 401) this.options.onUnauthorized(message);
      throw new ApiError(response.status, code, message);
    }
  }
}

/** Runs `task` on each item, at most `limit` at a time; the results keep the items' order. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: "fulfilled", value: await task(items[index]!) };
      } catch (reason) {
        results[index] = { reason, status: "rejected" };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
