import type { Core } from "./http.js";
import { encodePath } from "./http.js";

/** `basalt.functions`: HTTP functions defined by the project's admins. */
export class Functions {
  constructor(private readonly core: Core) {}

  /** `POST /v1/functions/{name}` with `args` as the body; resolves to the function's JSON answer. */
  async invoke<R = unknown>(name: string, args?: unknown): Promise<R> {
    // The route is not yet in the server's OpenAPI document; it is named here as API.md names it.
    return this.core.send<R>("post_functions_by_name" as never, `/v1/functions/${encodePath(name)}`, {
      method: "POST",
      body: args ?? {},
    });
  }
}
