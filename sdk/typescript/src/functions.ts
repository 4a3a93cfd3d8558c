import type { Core } from "./http.js";
import { encodeSegment } from "./http.js";

/** `basalt.functions`: HTTP functions defined by the project's admins. */
export class Functions {
  constructor(private readonly core: Core) {}

  /**
   * `POST /v1/functions/{name}` with `args` as the body (any JSON value; `{}` when left out);
   * resolves to the function's JSON answer. The name is one path segment (a `/` in it is
   * encoded), so it cannot reach another route.
   */
  async invoke<R = unknown>(name: string, args?: unknown): Promise<R> {
    return this.core.send<R>("post_functions_by_name", `/v1/functions/${encodeSegment(name)}`, {
      method: "POST",
      body: args === undefined ? {} : args,
    });
  }
}
