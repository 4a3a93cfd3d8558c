//! Route registration that is also the OpenAPI source: every route is added
//! through `Api::route`, which records its method, path, access and schemas
//! beside the handler, so the document and the router cannot drift.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{MethodFilter, MethodRouter, on};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::caller::{AdminRole, Authenticator, Caller};

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn reference<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

fn inline<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    T::json_schema(g)
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials needed; any sent are ignored.
    Public,
    /// Anyone; a credential, if sent, must be valid. Rules decide.
    Caller,
    /// An app user's access token.
    User,
    /// An admin token or a service key.
    Admin,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Caller => "caller",
            Access::User => "user",
            Access::Admin => "admin",
        }
    }
}

enum Body {
    Json(SchemaFn),
    Raw(&'static str),
}

struct Response {
    status: u16,
    description: &'static str,
    body: Option<Body>,
}

/// One route: a handler and what the OpenAPI document says about it.
pub struct Route<S> {
    method: Method,
    path: &'static str,
    router: MethodRouter<S>,
    summary: &'static str,
    tag: &'static str,
    access: Access,
    body: Option<Body>,
    /// The body may be left out (an empty body reads as `{}`).
    body_optional: bool,
    query: Option<SchemaFn>,
    responses: Vec<Response>,
    /// The least admin role that may call it; `None`: from the method.
    role: Option<AdminRole>,
    /// A POST that only reads (a query, a count, the playground).
    read_only: bool,
    /// A WebSocket's messages: (client → server, server → client).
    messages: Option<(SchemaFn, SchemaFn)>,
    /// Schemas of path parameters (the server's own checks); a parameter
    /// not named here is any string.
    params: Vec<(&'static str, Value)>,
    /// Header parameters, whole OpenAPI parameter objects.
    headers: Vec<Value>,
    /// OpenAPI links of the first 2xx response: name → link object.
    links: Vec<(&'static str, Value)>,
}

macro_rules! constructor {
    ($name:ident, $method:ident) => {
        pub fn $name<H, T>(path: &'static str, handler: H) -> Self
        where
            H: Handler<T, S>,
            T: 'static,
        {
            Route::new(Method::$method, MethodFilter::$method, path, handler)
        }
    };
}

impl<S: Clone + Send + Sync + 'static> Route<S> {
    constructor!(get, GET);
    constructor!(post, POST);
    constructor!(put, PUT);
    constructor!(patch, PATCH);
    constructor!(delete, DELETE);

    fn new<H, T>(method: Method, filter: MethodFilter, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        Route {
            method,
            path,
            router: on(filter, handler),
            summary: "",
            tag: "",
            access: Access::Caller,
            body: None,
            body_optional: false,
            query: None,
            responses: Vec::new(),
            role: None,
            read_only: false,
            messages: None,
            params: Vec::new(),
            headers: Vec::new(),
            links: Vec::new(),
        }
    }

    /// The schema of path parameter `name`: what the server checks of it.
    pub fn param(mut self, name: &'static str, schema: Value) -> Self {
        self.params.retain(|(n, _)| *n != name);
        self.params.push((name, schema));
        self
    }

    /// A header the route reads, with its schema.
    pub fn header(
        mut self,
        name: &'static str,
        required: bool,
        description: &'static str,
        schema: Value,
    ) -> Self {
        self.headers.push(json!({
            "name": name, "in": "header", "required": required,
            "description": description, "schema": schema,
        }));
        self
    }

    /// An OpenAPI link from this route's success answer to the operation
    /// `operation_id`, its parameters filled by runtime expressions
    /// (`$response.body#/id`, `$request.path.collection`): how a client
    /// goes from what it made to what it can do with it.
    pub fn link(mut self, name: &'static str, operation_id: &str, parameters: &[(&str, &str)]) -> Self {
        let params: Map<String, Value> = parameters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        self.links
            .push((name, json!({"operationId": operation_id, "parameters": params})));
        self
    }

    /// Whether the route's path has the parameter `name`.
    fn has_param(&self, name: &str) -> bool {
        self.path.split('/').any(|segment| {
            segment
                .strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .is_some_and(|p| p.trim_start_matches('*') == name)
        })
    }

    /// The messages of a WebSocket route, published as component schemas
    /// and named by the operation's `x-basalt-messages`.
    pub fn messages<C: JsonSchema, R: JsonSchema>(mut self) -> Self {
        self.messages = Some((reference::<C>, reference::<R>));
        self
    }

    /// The least admin role that may call this route, when it is not the
    /// default (`viewer` for reads, `developer` for writes).
    pub fn role(mut self, role: AdminRole) -> Self {
        self.role = Some(role);
        self
    }

    /// Marks a POST that changes nothing, so viewers may call it.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The least role an admin (or a service key, acting as `developer`)
    /// needs to call this route.
    pub fn required_role(&self) -> AdminRole {
        self.role.unwrap_or(
            if self.read_only || self.method == Method::GET || self.method == Method::HEAD {
                AdminRole::Viewer
            } else {
                AdminRole::Developer
            },
        )
    }

    pub fn summary(mut self, summary: &'static str) -> Self {
        self.summary = summary;
        self
    }
    pub fn tag(mut self, tag: &'static str) -> Self {
        self.tag = tag;
        self
    }
    pub fn access(mut self, access: Access) -> Self {
        self.access = access;
        self
    }
    /// A JSON request body of type `T`.
    pub fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(Body::Json(reference::<T>));
        self
    }
    /// A JSON request body of type `T` that may be left out (see
    /// [`crate::extract::OptionalJson`]).
    pub fn optional_body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(Body::Json(reference::<T>));
        self.body_optional = true;
        self
    }
    /// A raw request body of the given media type that may be empty or left
    /// out (an empty file).
    pub fn optional_raw_body(mut self, media_type: &'static str) -> Self {
        self.body = Some(Body::Raw(media_type));
        self.body_optional = true;
        self
    }
    /// A raw request body of the given media type (`*/*` for any).
    pub fn raw_body(mut self, media_type: &'static str) -> Self {
        self.body = Some(Body::Raw(media_type));
        self
    }
    /// Query parameters: the fields of `T`.
    pub fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(inline::<T>);
        self
    }
    /// A JSON response of type `T`.
    pub fn response<T: JsonSchema>(mut self, status: u16, description: &'static str) -> Self {
        self.responses.push(Response {
            status,
            description,
            body: Some(Body::Json(reference::<T>)),
        });
        self
    }
    /// A response without a body.
    pub fn empty(mut self, status: u16, description: &'static str) -> Self {
        self.responses.push(Response {
            status,
            description,
            body: None,
        });
        self
    }
    /// A response of another media type.
    pub fn raw_response(mut self, status: u16, media_type: &'static str, description: &'static str) -> Self {
        self.responses.push(Response {
            status,
            description,
            body: Some(Body::Raw(media_type)),
        });
        self
    }

    /// Lifts the request body limit: the handler streams the body itself
    /// and enforces its own limit (uploads).
    pub fn streamed_body(mut self) -> Self {
        self.router = self.router.layer(axum::extract::DefaultBodyLimit::disable());
        self
    }
}

/// A set of routes; slices build one each and the server merges them.
pub struct Api<S> {
    routes: Vec<Route<S>>,
}

impl<S> Default for Api<S> {
    fn default() -> Self {
        Api { routes: Vec::new() }
    }
}

impl<S: Clone + Send + Sync + 'static> Api<S> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn route(mut self, route: Route<S>) -> Self {
        self.routes.push(route);
        self
    }

    pub fn merge(mut self, other: Api<S>) -> Self {
        self.routes.extend(other.routes);
        self
    }

    /// Gives path parameter `name` this schema on every route that has it
    /// and does not give its own.
    pub fn with_param(mut self, name: &'static str, schema: Value) -> Self {
        for route in &mut self.routes {
            if route.has_param(name) && !route.params.iter().any(|(n, _)| *n == name) {
                route.params.push((name, schema.clone()));
            }
        }
        self
    }

    /// The OpenAPI 3.1 document of every registered route.
    pub fn openapi(&self, title: &str, version: &str) -> Value {
        let mut settings = SchemaSettings::draft2020_12();
        settings.definitions_path = "#/components/schemas/".into();
        settings.meta_schema = None;
        let mut g = settings.into_generator();
        let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for route in &self.routes {
            let (openapi_path, params) = path_parameters(route.path);
            let mut parameters: Vec<Value> = params
                .iter()
                .map(|p| {
                    let schema = route
                        .params
                        .iter()
                        .find(|(n, _)| n == p)
                        .map_or_else(|| json!({"type": "string"}), |(_, s)| s.clone());
                    json!({"name": p, "in": "path", "required": true, "schema": schema})
                })
                .collect();
            parameters.extend(route.headers.iter().cloned());
            if let Some(query) = route.query {
                let schema = query(&mut g);
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                    for (name, prop) in props {
                        let mut param = json!({"name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": prop});
                        if let Some(d) = prop.get("description") {
                            param["description"] = d.clone();
                        }
                        parameters.push(param);
                    }
                }
            }
            let mut op = Map::new();
            op.insert(
                "operationId".into(),
                operation_id(&route.method, route.path).into(),
            );
            if !route.summary.is_empty() {
                op.insert("summary".into(), route.summary.into());
            }
            if !route.tag.is_empty() {
                op.insert("tags".into(), json!([route.tag]));
            }
            op.insert("x-basalt-access".into(), route.access.as_str().into());
            if matches!(route.access, Access::Admin | Access::Caller) {
                // What an admin needs: the dashboard hides what a role may not do.
                op.insert("x-basalt-role".into(), route.required_role().as_str().into());
            }
            op.insert(
                "security".into(),
                match route.access {
                    Access::Public => json!([]),
                    Access::Caller => json!([{}, {"bearer": []}]),
                    Access::User | Access::Admin => json!([{"bearer": []}]),
                },
            );
            if !parameters.is_empty() {
                op.insert("parameters".into(), parameters.into());
            }
            if let Some(body) = &route.body {
                op.insert(
                    "requestBody".into(),
                    json!({"required": !route.body_optional, "content": content(body, &mut g)}),
                );
            }
            if let Some((client, server)) = route.messages {
                op.insert(
                    "x-basalt-messages".into(),
                    json!({"client": client(&mut g), "server": server(&mut g)}),
                );
            }
            let mut responses = Map::new();
            let mut linked = false;
            for r in &route.responses {
                let mut response = json!({"description": r.description});
                if let Some(body) = &r.body {
                    response["content"] = content(body, &mut g);
                }
                if !linked && (200..300).contains(&r.status) && !route.links.is_empty() {
                    linked = true;
                    let links: Map<String, Value> = route
                        .links
                        .iter()
                        .map(|(n, l)| ((*n).to_owned(), l.clone()))
                        .collect();
                    response["links"] = links.into();
                }
                responses.insert(r.status.to_string(), response);
            }
            responses.insert("default".into(), json!({"$ref": "#/components/responses/Error"}));
            op.insert("responses".into(), responses.into());
            paths
                .entry(openapi_path)
                .or_default()
                .insert(route.method.as_str().to_ascii_lowercase(), op.into());
        }
        let mut schemas = g.take_definitions(true);
        schemas.insert("Error".into(), error_schema());
        json!({
            "openapi": "3.1.0",
            "info": {"title": title, "version": version},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "responses": {"Error": {
                    "description": "Every failure: see the error codes in the API reference.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
                }},
                "securitySchemes": {"bearer": {
                    "type": "http", "scheme": "bearer",
                    "description": "An access token, an admin token, or a service key (`bsk_…`)."
                }}
            }
        })
    }

    /// The axum router of every registered route. Each route's declared
    /// access is enforced here, before its handler, so the document cannot
    /// promise a protection the handler forgot.
    pub fn into_router(self) -> Router<S> {
        let mut by_path: BTreeMap<&'static str, MethodRouter<S>> = BTreeMap::new();
        for route in self.routes {
            let role = route.required_role();
            let router = match (route.access, role) {
                (Access::Public, _) => route.router,
                (Access::User, _) => route
                    .router
                    .route_layer(from_fn(check_access::<{ USER }, { VIEWER }>)),
                (Access::Caller, AdminRole::Viewer) => route
                    .router
                    .route_layer(from_fn(check_access::<{ CALLER }, { VIEWER }>)),
                (Access::Caller, AdminRole::Developer) => route
                    .router
                    .route_layer(from_fn(check_access::<{ CALLER }, { DEVELOPER }>)),
                (Access::Caller, AdminRole::Owner) => route
                    .router
                    .route_layer(from_fn(check_access::<{ CALLER }, { OWNER }>)),
                (Access::Admin, AdminRole::Viewer) => route
                    .router
                    .route_layer(from_fn(check_access::<{ ADMIN }, { VIEWER }>)),
                (Access::Admin, AdminRole::Developer) => route
                    .router
                    .route_layer(from_fn(check_access::<{ ADMIN }, { DEVELOPER }>)),
                (Access::Admin, AdminRole::Owner) => route
                    .router
                    .route_layer(from_fn(check_access::<{ ADMIN }, { OWNER }>)),
            };
            let merged = match by_path.remove(route.path) {
                Some(existing) => existing.merge(router),
                None => router,
            };
            by_path.insert(route.path, merged);
        }
        by_path
            .into_iter()
            .fold(Router::new(), |router, (path, methods)| {
                router.route(path, methods)
            })
    }
}

const CALLER: u8 = 0;
const USER: u8 = 1;
const ADMIN: u8 = 2;

const VIEWER: u8 = 0;
const DEVELOPER: u8 = 1;
const OWNER: u8 = 2;

fn role_of(n: u8) -> AdminRole {
    match n {
        VIEWER => AdminRole::Viewer,
        DEVELOPER => AdminRole::Developer,
        _ => AdminRole::Owner,
    }
}

/// Resolves the caller (a bad credential is 401 here) and checks the
/// route's access and, for admins and service keys, the role it needs.
/// The server puts the `Authenticator` in every request; the caller goes
/// into the response's extensions for the request log.
async fn check_access<const LEVEL: u8, const ROLE: u8>(req: Request, next: Next) -> HttpResponse {
    let (mut parts, body) = req.into_parts();
    let Some(authenticator) = parts.extensions.get::<Authenticator>().cloned() else {
        return crate::Error::internal("no authenticator in the request extensions").into_response();
    };
    let checked = Caller::from_parts(&mut parts, &authenticator)
        .await
        .and_then(|caller| match LEVEL {
            ADMIN => caller.require_admin(),
            USER => caller.require_user(),
            _ => Ok(caller),
        })
        .and_then(|caller| match caller.admin_role() {
            Some(role) if role < role_of(ROLE) => Err(crate::Error::permission_denied(format!(
                "this needs the {} role; you act as {}",
                role_of(ROLE).as_str(),
                role.as_str()
            ))),
            _ => Ok(caller),
        });
    match checked {
        Ok(caller) => {
            let mut response = next.run(Request::from_parts(parts, body)).await;
            response.extensions_mut().insert(caller);
            response
        }
        Err(e) => {
            let mut response = e.into_response();
            // A refused caller is still who made the request.
            if let Some(caller) = parts.extensions.get::<Caller>() {
                response.extensions_mut().insert(caller.clone());
            }
            response
        }
    }
}

fn content(body: &Body, g: &mut SchemaGenerator) -> Value {
    match body {
        Body::Json(schema) => json!({"application/json": {"schema": schema(g)}}),
        Body::Raw(media_type) => json!({*media_type: {"schema": {"type": "string", "format": "binary"}}}),
    }
}

/// `/v1/db/{collection}/{*path}` → (`/v1/db/{collection}/{path}`, [collection, path]).
fn path_parameters(path: &str) -> (String, Vec<String>) {
    let mut params = Vec::new();
    let openapi = path
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    let name = name.trim_start_matches('*');
                    params.push(name.to_owned());
                    format!("{{{name}}}")
                }
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/");
    (openapi, params)
}

/// `GET /v1/admin/keys/{id}` → `get_admin_keys_by_id`.
fn operation_id(method: &Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for segment in path.split('/').filter(|s| !s.is_empty() && *s != "v1") {
        id.push('_');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                id.push_str("by_");
                id.push_str(name.trim_start_matches('*'));
            }
            None => id.extend(
                segment
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
            ),
        }
    }
    id
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "enum": crate::error::Code::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()},
                "message": {"type": "string"},
                "details": {"type": "object"}
            }
        }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_operation_ids() {
        assert_eq!(
            path_parameters("/v1/storage/{bucket}/{*path}"),
            (
                "/v1/storage/{bucket}/{path}".to_owned(),
                vec!["bucket".to_owned(), "path".to_owned()]
            )
        );
        assert_eq!(
            operation_id(&Method::DELETE, "/v1/admin/keys/{id}"),
            "delete_admin_keys_by_id"
        );
        assert_eq!(
            operation_id(&Method::GET, "/v1/auth/jwks.json"),
            "get_auth_jwks_json"
        );
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Page {
        /// Items per page.
        limit: Option<u32>,
    }

    #[derive(JsonSchema)]
    #[allow(dead_code)]
    struct Thing {
        name: String,
    }

    #[test]
    fn document_lists_every_route_with_its_schemas() {
        let api: Api<()> = Api::new()
            .route(
                Route::get("/v1/things", || async {})
                    .query::<Page>()
                    .response::<Thing>(200, "a thing")
                    .access(Access::Public),
            )
            .route(
                Route::post("/v1/things", || async {})
                    .body::<Thing>()
                    .empty(201, "made")
                    .access(Access::Admin),
            )
            .route(Route::delete("/v1/things/{id}", || async {}).empty(204, "gone"));
        let doc = api.openapi("t", "1");
        let things = &doc["paths"]["/v1/things"];
        assert_eq!(things["get"]["parameters"][0]["name"], "limit");
        assert_eq!(things["get"]["parameters"][0]["description"], "Items per page.");
        assert_eq!(
            things["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Thing"
        );
        assert_eq!(
            things["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Thing"
        );
        assert_eq!(things["post"]["security"], json!([{"bearer": []}]));
        assert_eq!(
            doc["paths"]["/v1/things/{id}"]["delete"]["parameters"][0]["in"],
            "path"
        );
        assert_eq!(
            doc["components"]["schemas"]["Thing"]["properties"]["name"]["type"],
            "string"
        );
        // Both methods of one path share one axum route.
        let _router: Router<()> = api.into_router();
    }
}
