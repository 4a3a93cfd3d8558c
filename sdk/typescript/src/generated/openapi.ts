// Generated from `basalt openapi` by openapi-typescript: do not edit. Regenerate with `npm run generate` (uses $BASALT_BIN).
/* eslint-disable */
export interface paths {
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics */
        get: operations["get_metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/admins": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List admins */
        get: operations["get_admin_admins"];
        put?: never;
        /** Create an admin */
        post: operations["post_admin_admins"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/admins/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Delete an admin (never the last owner) */
        delete: operations["delete_admin_admins_by_id"];
        options?: never;
        head?: never;
        /** Change an admin's role, email or password (a new email or password signs them out) */
        patch: operations["patch_admin_admins_by_id"];
        trace?: never;
    };
    "/v1/admin/admins/{id}/mfa": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove another admin's MFA (a lost authenticator); signs them out */
        delete: operations["delete_admin_admins_by_id_mfa"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Changes made by admins and service keys, newest first */
        get: operations["get_admin_audit"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/backups": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Scheduled backups: the schedule, the next slot, the last run and the backups kept */
        get: operations["get_admin_backups"];
        put?: never;
        /** Start a backup to backup_to now (SQLite); GET /v1/admin/backups shows how it went */
        post: operations["post_admin_backups"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/channels": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Channel rules, by pattern */
        get: operations["get_admin_channels"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/channels/{pattern}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Set the join and broadcast rules of a channel pattern (`room:*`) */
        put: operations["put_admin_channels_by_pattern"];
        post?: never;
        /** Remove a pattern's rules */
        delete: operations["delete_admin_channels_by_pattern"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/deliveries/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Send a dead delivery again (webhooks and after-triggers) */
        post: operations["post_admin_deliveries_by_id_retry"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/executions/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Run a dead after-trigger delivery again */
        post: operations["post_admin_executions_by_id_retry"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/functions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List functions */
        get: operations["get_admin_functions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/functions/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One function with its last versions */
        get: operations["get_admin_functions_by_name"];
        /** Create or change a function; the source is compiled first, and each save is a new version */
        put: operations["put_admin_functions_by_name"];
        post?: never;
        /** Delete a function and its versions (its executions stay) */
        delete: operations["delete_admin_functions_by_name"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/functions/{name}/executions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Runs of a function, newest first */
        get: operations["get_admin_functions_by_name_executions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List service keys */
        get: operations["get_admin_keys"];
        put?: never;
        /** Create a service key (its secret is shown once) */
        post: operations["post_admin_keys"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/keys/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke a service key */
        delete: operations["delete_admin_keys_by_id"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sign in as an admin */
        post: operations["post_admin_login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The request log, newest first */
        get: operations["get_admin_logs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The signed-in admin, with their role */
        get: operations["get_admin_me"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/mfa/totp": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Turn the signed-in admin's MFA off (with a current or recovery code) */
        delete: operations["delete_admin_mfa_totp"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/mfa/totp/confirm": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Confirm enrolment with a current code; sign-in then asks for one */
        post: operations["post_admin_mfa_totp_confirm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/mfa/totp/enroll": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Start TOTP enrolment for the signed-in admin */
        post: operations["post_admin_mfa_totp_enroll"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/mfa/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Finish an admin sign-in that answered mfa_required, with a TOTP or recovery code */
        post: operations["post_admin_mfa_verify"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/outbox": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Mail kept when no SMTP server is configured, newest first */
        get: operations["get_admin_outbox"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/push": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Send a notification to every device of some users, through the outbox */
        post: operations["post_admin_push"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/push/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A send and what each device's push service answered */
        get: operations["get_admin_push_by_id"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/push/subscriptions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Registered devices, of every user or of one */
        get: operations["get_admin_push_subscriptions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/push/subscriptions/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove a device */
        delete: operations["delete_admin_push_subscriptions_by_id"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/realtime": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Open realtime connections of this node, and channels with their presence */
        get: operations["get_admin_realtime"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/rules/cases": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Saved rules-playground cases */
        get: operations["get_admin_rules_cases"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/rules/cases/{collection}/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Save a rules-playground case (created or replaced) */
        put: operations["put_admin_rules_cases_by_collection_by_name"];
        post?: never;
        /** Remove a saved case */
        delete: operations["delete_admin_rules_cases_by_collection_by_name"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/rules/cases/{collection}/run": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Run a collection's saved cases against its rules, or against a draft of them */
        post: operations["post_admin_rules_cases_by_collection_run"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/rules/evaluate": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Rules playground: evaluate a rule against a given context */
        post: operations["post_admin_rules_evaluate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/settings": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The effective configuration; secrets are shown only as set or not set */
        get: operations["get_admin_settings"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/settings/test-mail": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Send a test mail through the configured mail transport */
        post: operations["post_admin_settings_test_mail"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Counts: users, collections, documents (also per collection), objects, realtime connections */
        get: operations["get_admin_stats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/stats/series": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Requests, server errors or p95 latency over the last hour, day or week */
        get: operations["get_admin_stats_series"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List or search users */
        get: operations["get_admin_users"];
        put?: never;
        /** Create a user */
        post: operations["post_admin_users"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/users/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One user */
        get: operations["get_admin_users_by_id"];
        put?: never;
        post?: never;
        /** Delete a user */
        delete: operations["delete_admin_users_by_id"];
        options?: never;
        head?: never;
        /** Change a user's email, password, verification, disabled flag, data or claims */
        patch: operations["patch_admin_users_by_id"];
        trace?: never;
    };
    "/v1/admin/users/{id}/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** End every session of a user */
        post: operations["post_admin_users_by_id_logout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/users/{id}/mfa": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove a user's MFA (a lost authenticator); signs them out everywhere */
        delete: operations["delete_admin_users_by_id_mfa"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/users/{id}/sessions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A user's live sessions, newest first */
        get: operations["get_admin_users_by_id_sessions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/users/{id}/sessions/{session_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** End one session of a user */
        delete: operations["delete_admin_users_by_id_sessions_by_session_id"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List webhooks (without their secrets) */
        get: operations["get_admin_webhooks"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/webhooks/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One webhook (without its secret) */
        get: operations["get_admin_webhooks_by_name"];
        /** Create or change a webhook; a new one answers its signing secret, once */
        put: operations["put_admin_webhooks_by_name"];
        post?: never;
        /** Delete a webhook; its waiting deliveries are not sent */
        delete: operations["delete_admin_webhooks_by_name"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/admin/webhooks/{name}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Deliveries of a webhook, newest first */
        get: operations["get_admin_webhooks_by_name_deliveries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/anonymous": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sign in as a new anonymous user */
        post: operations["post_auth_anonymous"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/jwks.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Public keys that verify Basalt's tokens (JWKS) */
        get: operations["get_auth_jwks_json"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sign in with email and password */
        post: operations["post_auth_login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** End this session */
        post: operations["post_auth_logout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/magic-link": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Mail a sign-in link (always 202) */
        post: operations["post_auth_magic_link"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/magic-link/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sign in with a mailed magic-link token */
        post: operations["post_auth_magic_link_verify"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/mfa/totp": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Turn MFA off (needs a session verified with MFA, aal 2) */
        delete: operations["delete_auth_mfa_totp"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/mfa/totp/confirm": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Confirm enrolment with a current code; MFA is then required at sign-in */
        post: operations["post_auth_mfa_totp_confirm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/mfa/totp/enroll": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Start TOTP enrolment: a secret, its otpauth:// URL and recovery codes */
        post: operations["post_auth_mfa_totp_enroll"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/mfa/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Finish a sign-in that answered mfa_required, with a TOTP or recovery code */
        post: operations["post_auth_mfa_verify"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/oauth/{provider}/authorize": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Start signing in with an OAuth / OpenID Connect provider */
        get: operations["get_auth_oauth_by_provider_authorize"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/oauth/{provider}/callback": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Where the provider sends the user back */
        get: operations["get_auth_oauth_by_provider_callback"];
        put?: never;
        /** The callback for providers that post it (response_mode=form_post) */
        post: operations["post_auth_oauth_by_provider_callback"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/password/forgot": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Mail a password-reset link (always 202) */
        post: operations["post_auth_password_forgot"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/password/reset": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Set a new password with the mailed token; ends every session */
        post: operations["post_auth_password_reset"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/refresh": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Exchange a refresh token for a new session (the old token stops working) */
        post: operations["post_auth_refresh"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/sessions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The signed-in user's sessions */
        get: operations["get_auth_sessions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/sessions/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** End one of the user's sessions */
        delete: operations["delete_auth_sessions_by_id"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/signup": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sign up with email and password */
        post: operations["post_auth_signup"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/user": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The signed-in user */
        get: operations["get_auth_user"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Update the signed-in user's email, password or profile data */
        patch: operations["patch_auth_user"];
        trace?: never;
    };
    "/v1/auth/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Confirm an email address with the mailed token */
        post: operations["post_auth_verify"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/verify/send": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Mail an email-verification link (always 202) */
        post: operations["post_auth_verify_send"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/db/{collection}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List documents by id, or by one field (`order=field` or `order=-field`) */
        get: operations["get_db_by_collection"];
        put?: never;
        /** Create a document (with a generated id unless `id` is given) */
        post: operations["post_db_by_collection"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/db/{collection}/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One document; `ETag` is its version, `If-None-Match` gives 304 */
        get: operations["get_db_by_collection_by_id"];
        /** Create or replace a document; `If-Match` makes it conditional */
        put: operations["put_db_by_collection_by_id"];
        post?: never;
        /** Delete a document; `If-Match` makes it conditional */
        delete: operations["delete_db_by_collection_by_id"];
        options?: never;
        head?: never;
        /** Change a document: merge patch, increment, server_time, array_union, array_remove */
        patch: operations["patch_db_by_collection_by_id"];
        trace?: never;
    };
    "/v1/db/{collection}/count": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Count the documents matching a filter */
        post: operations["post_db_by_collection_count"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/db/{collection}/query": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Query documents: filters, order, limit, cursor, select */
        post: operations["post_db_by_collection_query"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/db/batch": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Up to 500 writes, all or nothing */
        post: operations["post_db_batch"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/db/collections": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List collections */
        get: operations["get_db_collections"];
        put?: never;
        /** Create a collection with its rules, schema and indexes */
        post: operations["post_db_collections"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/db/collections/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One collection */
        get: operations["get_db_collections_by_name"];
        put?: never;
        post?: never;
        /** Delete a collection and every document in it */
        delete: operations["delete_db_collections_by_name"];
        options?: never;
        head?: never;
        /** Change a collection's rules, schema or indexes */
        patch: operations["patch_db_collections_by_name"];
        trace?: never;
    };
    "/v1/functions/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Call an http function: the body is its `args`, the answer its value */
        post: operations["post_functions_by_name"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: 200 while the process runs */
        get: operations["get_health"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/health/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: 200 when the database and the file store answer, else 503 */
        get: operations["get_health_ready"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This OpenAPI document */
        get: operations["get_openapi_json"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/push/subscriptions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The signed-in user's devices */
        get: operations["get_push_subscriptions"];
        put?: never;
        /** Register this device for the signed-in user (again: updates it) */
        post: operations["post_push_subscriptions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/push/subscriptions/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove one of the signed-in user's devices */
        delete: operations["delete_push_subscriptions_by_id"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/push/vapid": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The server's VAPID public key, for the browser's pushManager.subscribe */
        get: operations["get_push_vapid"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/realtime": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The realtime WebSocket (see docs/realtime.md for the protocol) */
        get: operations["get_realtime"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/storage/{bucket}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List objects by prefix */
        get: operations["get_storage_by_bucket"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/storage/{bucket}/{path}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Download an object; Range, If-None-Match and ?download= are honoured; ?expires=&sig= is a signed URL */
        get: operations["get_storage_by_bucket_by_path"];
        /** Upload an object (the raw body, streamed) */
        put: operations["put_storage_by_bucket_by_path"];
        /** With ?sign: a URL that downloads the object without a token until it expires */
        post: operations["post_storage_by_bucket_by_path"];
        /** Delete an object */
        delete: operations["delete_storage_by_bucket_by_path"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/storage/buckets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List buckets */
        get: operations["get_storage_buckets"];
        put?: never;
        /** Create a bucket */
        post: operations["post_storage_buckets"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/storage/buckets/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One bucket */
        get: operations["get_storage_buckets_by_name"];
        put?: never;
        post?: never;
        /** Delete a bucket and every object in it */
        delete: operations["delete_storage_buckets_by_name"];
        options?: never;
        head?: never;
        /** Change a bucket */
        patch: operations["patch_storage_buckets_by_name"];
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        Admin: {
            /** Format: date-time */
            created_at: string;
            email: string;
            id: string;
            /** @description Whether signing in asks for a TOTP code. */
            mfa_enabled: boolean;
            /** @description `owner`, `developer` or `viewer`. */
            role: components["schemas"]["RoleName"];
        };
        AdminList: {
            admins: components["schemas"]["Admin"][];
        };
        /** @description What `POST /v1/admin/login` answers: a token, or the MFA step. */
        AdminLogin: components["schemas"]["AdminSession"] | components["schemas"]["MfaChallenge"];
        AdminSession: {
            /** @description An admin JWT for `Authorization: Bearer …`. */
            access_token: string;
            admin: components["schemas"]["Admin"];
            /**
             * Format: uint64
             * @description Seconds until `access_token` expires.
             */
            expires_in: number;
        };
        AdminUpdate: {
            /** @description Replaces the custom claims (in the user's next access token). */
            claims?: {
                [key: string]: unknown;
            } | null;
            /** @description Replaces the profile data. */
            data?: {
                [key: string]: unknown;
            } | null;
            /** @description Disabling ends every session; a disabled user cannot sign in. */
            disabled?: boolean | null;
            email?: string | null;
            email_verified?: boolean | null;
            /** @description `false` removes the user's MFA (a lost phone and lost recovery codes). */
            mfa_enabled?: boolean | null;
            password?: string | null;
        };
        AuditActor: {
            /** @description The admin's email, or the service key's name. */
            email?: string | null;
            /** @description The admin's id or the service key's id. */
            id?: string | null;
            /** @description `admin`, `service` or `cli` (a command run on the server). */
            kind: string;
        };
        AuditEntry: {
            /** @description What was done: `collection.create`, `key.revoke`, `admin.update`, … */
            action: string;
            admin: components["schemas"]["AuditActor"];
            after?: unknown;
            before?: unknown;
            id: string;
            /** @description What it was done to: a collection name, a key id, an admin's email, … */
            target: string;
            /** Format: date-time */
            time: string;
        };
        AuditPage: {
            entries: components["schemas"]["AuditEntry"][];
            next_cursor?: string | null;
        };
        /** @description `op` is `create`, `set`, `update` or `delete`; `update` takes the PATCH fields. */
        BatchOperation: {
            array_remove?: {
                [key: string]: unknown;
            } | null;
            array_union?: {
                [key: string]: unknown;
            } | null;
            collection: string;
            data?: {
                [key: string]: unknown;
            } | null;
            id?: string | null;
            /**
             * Format: int64
             * @description The version the stored document must have (412 otherwise).
             */
            if_version?: number | null;
            increment?: {
                [key: string]: unknown;
            } | null;
            /** @enum {string} */
            op: "create" | "set" | "update" | "delete";
            server_time?: string[] | null;
        };
        BatchRequest: {
            operations: components["schemas"]["BatchOperation"][];
        };
        BatchResults: {
            results: (components["schemas"]["DocumentBody"] | null)[];
        };
        Bucket: {
            /** @description Content types allowed in, like `image/*`; empty allows any. */
            allowed_types: string[];
            /** Format: date-time */
            created_at: string;
            /**
             * Format: uint64
             * @description Bytes; null for no limit beyond the server's.
             */
            max_object_size?: number | null;
            name: string;
            /** @description Anyone may download, without a token. */
            public: boolean;
            rules: components["schemas"]["BucketRules"];
            /** Format: date-time */
            updated_at: string;
        };
        BucketList: {
            buckets: components["schemas"]["Bucket"][];
        };
        BucketRules: {
            /** @description Who may delete. */
            delete?: string | null;
            /** @description Who may download (and list). Missing denies, unless the bucket is public. */
            read?: string | null;
            /** @description Who may upload or overwrite. */
            write?: string | null;
        };
        CaseResult: {
            allowed: boolean;
            caller: string;
            /** @description `allowed` is not what the case expects. */
            changed: boolean;
            /** @description Why the rule denied when it did not simply return false. */
            error?: string | null;
            expect_allowed: boolean;
            name: string;
            operation: string;
        };
        CaseRun: {
            /**
             * Format: uint
             * @description How many cases' outcome differs from what they expect.
             */
            changed: number;
            /** @description Every case of the collection, in name order. */
            results: components["schemas"]["CaseResult"][];
        };
        /** @enum {string} */
        ChangeOp: "create" | "update" | "delete";
        ChannelInfo: {
            members: components["schemas"]["MemberInfo"][];
            name: string;
        };
        /** @description The rules of a channel pattern, as stored and shown. */
        ChannelRules: {
            /** @description Who may broadcast; missing denies. */
            broadcast?: string | null;
            /** Format: date-time */
            created_at: string;
            /** @description Who may join; missing denies. */
            join?: string | null;
            /** @description `room:1` (one channel) or `room:*` (every channel starting with `room:`). */
            pattern: string;
            /** Format: date-time */
            updated_at: string;
        };
        ChannelRulesList: {
            channels: components["schemas"]["ChannelRules"][];
        };
        CodeRequest: {
            code: string;
        };
        CodeRequest2: {
            /** @description A 6-digit TOTP code (or, to turn MFA off, a recovery code). */
            code: string;
        };
        Collection: {
            /** Format: date-time */
            created_at: string;
            indexes: components["schemas"]["IndexDef"][];
            name: string;
            rules: components["schemas"]["CollectionRules"];
            /** @description The JSON Schema (draft 2020-12) every document's `data` must pass, or null. */
            schema?: unknown;
            /** Format: date-time */
            updated_at: string;
        };
        CollectionList: {
            collections: components["schemas"]["Collection"][];
        };
        CollectionRules: {
            /** @description Who may create documents. Missing denies. */
            create?: string | null;
            /** @description Who may delete documents. Missing denies. */
            delete?: string | null;
            /** @description Who may get, list, query, count and subscribe. Missing denies. */
            read?: string | null;
            /** @description Who may replace or patch documents. Missing denies. */
            update?: string | null;
        };
        ConnectionInfo: {
            /** @description `anon`, `user`, `admin` or `service`, as the connection last authenticated. */
            caller: string;
            /** @description The user's, admin's or key's id. */
            caller_id?: string | null;
            /** @description Channels it has joined. */
            channels: string[];
            /** Format: date-time */
            connected_at: string;
            email?: string | null;
            /** @description Also its member id in channels. */
            id: string;
            ip: string;
            subscriptions: components["schemas"]["SubscriptionInfo"][];
        };
        CountRequest: {
            where?: components["schemas"]["Filter"] | null;
        };
        CountResult: {
            /** Format: uint64 */
            count: number;
        };
        Counts: {
            /** Format: int64 */
            dead: number;
            /** Format: int64 */
            ok: number;
            /** Format: int64 */
            pending: number;
            /**
             * Format: int64
             * @description Of the dead: devices the push service said were gone, now removed.
             */
            removed: number;
            /** Format: int64 */
            retrying: number;
        };
        CreateAdmin: {
            email: string;
            /** @description 8 to 256 characters. */
            password: string;
            role: components["schemas"]["RoleName"];
        };
        CreateBucket: {
            /** @default [] */
            allowed_types: string[];
            /** Format: uint64 */
            max_object_size?: number | null;
            name: string;
            /** @default false */
            public: boolean;
            /** @default {} */
            rules: components["schemas"]["BucketRules"];
        };
        CreateCollection: {
            /** @default [] */
            indexes: components["schemas"]["IndexDef"][];
            /** @description `^[a-z][a-z0-9_]{0,62}$`. */
            name: string;
            /** @default {} */
            rules: components["schemas"]["CollectionRules"];
            /** @description A JSON Schema (draft 2020-12) for `data`. */
            schema?: Record<string, never> | boolean | null;
        };
        CreateDocument: {
            /** @description The document's data: a JSON object. */
            data: {
                [key: string]: unknown;
            };
            /** @description 1 to 128 of `[A-Za-z0-9_-]`; generated (sortable by creation time) when absent. */
            id?: string | null;
        };
        CreateKey: {
            /**
             * @description What the key is for, e.g. "billing worker": 1 to 100 characters,
             *     not all spaces, no control characters.
             */
            name: string;
        };
        CreateUser: {
            /** @default {} */
            claims: {
                [key: string]: unknown;
            };
            /** @default {} */
            data: {
                [key: string]: unknown;
            };
            email: string;
            /** @default false */
            email_verified: boolean;
            password?: string | null;
        };
        Delivery: {
            /** Format: int64 */
            attempts: number;
            /** Format: date-time */
            created_at: string;
            /** Format: double */
            duration_ms?: number | null;
            error?: string | null;
            /** @description The event's id: `webhook-id` on every try. */
            event_id: string;
            id: string;
            /**
             * Format: date-time
             * @description The next try, while it is `pending` or `retrying`.
             */
            next_attempt_at?: string | null;
            /**
             * Format: int64
             * @description The HTTP status of the last answer.
             */
            response_status?: number | null;
            /** @description `pending`, `retrying`, `ok` or `dead`. */
            status: string;
            type: string;
            /** Format: date-time */
            updated_at: string;
        };
        DeliveryPage: {
            deliveries: components["schemas"]["Delivery"][];
            next_cursor?: string | null;
        };
        DeviceResult: {
            /** Format: int64 */
            attempts: number;
            /** @description The delivery's id (`POST /v1/admin/deliveries/{id}/retry` sends a dead one again). */
            delivery_id: string;
            error?: string | null;
            kind: string;
            /** @description The push service said the device is gone; its subscription was removed. */
            removed: boolean;
            /**
             * Format: int64
             * @description The push service's HTTP status, last time.
             */
            response_status?: number | null;
            /** @description `pending`, `retrying`, `ok` or `dead`. */
            status: string;
            subscription_id: string;
            /** Format: date-time */
            updated_at: string;
        };
        /** @description The document of API.md, as serialized. */
        DocumentBody: {
            collection: string;
            /** Format: date-time */
            created_at: string;
            data: {
                [key: string]: unknown;
            };
            id: string;
            /** Format: date-time */
            updated_at: string;
            /** Format: int64 */
            version: number;
        };
        DocumentList: {
            documents: components["schemas"]["DocumentBody"][];
            next_cursor?: string | null;
        };
        Effective: {
            mail: components["schemas"]["MailInfo"];
            oauth_providers: components["schemas"]["Provider"][];
            /** @description In the order of docs/configuration.md. */
            settings: components["schemas"]["Setting"][];
        };
        EmailRequest: {
            email: string;
        };
        Empty: Record<string, never>;
        Enrolment: {
            otpauth_url: string;
            /** @description Each works once in place of a code. Shown only now. */
            recovery_codes: string[];
            /** @description Base32, for manual entry into an authenticator app. */
            secret: string;
        };
        /** @description Proof that the caller holds the account (see `reauthenticate`). */
        EnrolRequest: {
            /**
             * @description Required when the account has a password; without one, a sign-in
             *     less than 10 minutes old is needed instead.
             */
            current_password?: string | null;
        };
        Error: {
            error: {
                /** @enum {string} */
                code: "invalid_argument" | "unauthenticated" | "permission_denied" | "not_found" | "method_not_allowed" | "already_exists" | "aborted" | "failed_precondition" | "payload_too_large" | "unsupported_media_type" | "range_not_satisfiable" | "validation_failed" | "rate_limited" | "internal" | "unavailable" | "deadline_exceeded";
                details: Record<string, never>;
                message: string;
            };
        };
        /**
         * @description Either `rule` (a rule's text) or `collection` + `operation` (that
         *     collection's stored rule), with the context to evaluate it in.
         */
        EvaluateRequest: {
            /**
             * @description `auth` as the rule sees it: `{uid, role, email, email_verified, anonymous, aal, claims}`; null for anonymous.
             * @default null
             */
            auth: unknown;
            /** @description A collection whose stored rule to evaluate (with `operation`). */
            collection?: string | null;
            /**
             * @description `data`: the document data after the write, or null.
             * @default null
             */
            data: unknown;
            /**
             * @description `doc`: `{id, version, created_at, updated_at, data}` (times in ms), or null.
             * @default null
             */
            doc: unknown;
            /**
             * @description Also evaluate each condition of the rule on its own (`explain`).
             * @default false
             */
            explain: boolean;
            /**
             * @description Storage rules: `{bucket, path, size, content_type, metadata}`.
             * @default null
             */
            object: unknown;
            /** @description `read`, `create`, `update` or `delete`. */
            operation?: string | null;
            /**
             * @description `request` fields; missing ones get defaults (`time` is now).
             * @default {}
             */
            request: components["schemas"]["RequestFields"];
            /** @description A rule's text, e.g. `auth != () && doc.data.owner == auth.uid`. */
            rule?: string | null;
        } | {
            collection?: null;
            rule: string;
        } | {
            collection: string;
            /** @enum {unknown} */
            operation: "read" | "create" | "update" | "delete";
            rule?: null;
        };
        EvaluateResponse: {
            allowed: boolean;
            /** @description Why the rule denied when it did not simply return false (an error, a budget, a non-bool). */
            error?: string | null;
            /**
             * @description With `explain`: each operand of the rule's `&&`, `||` and `!`, in the
             *     order they start (an operand before the operands inside it); empty
             *     when the rule is one condition or more than one expression.
             */
            explain?: components["schemas"]["Explained"][] | null;
            /**
             * Format: uint64
             * @description Rhai operations the evaluation used.
             */
            operations: number;
        };
        Execution: {
            /** Format: int64 */
            attempts: number;
            /**
             * @description The outbox delivery the run belonged to (after-triggers): what
             *     `POST /v1/admin/executions/{id}/retry` sends again.
             */
            delivery?: string | null;
            /** Format: double */
            duration_ms: number;
            error?: string | null;
            function: string;
            id: string;
            /** @description What the script logged (`log(…)`, `print`), at most 100 lines. */
            logs: string[];
            /** Format: date-time */
            started_at: string;
            /** @description `ok` or `error`. */
            status: string;
            /** @description `http` for a call of `POST /v1/functions/{name}`. */
            trigger: string;
            /**
             * Format: int64
             * @description The function's version that ran.
             */
            version: number;
        };
        ExecutionPage: {
            executions: components["schemas"]["Execution"][];
            next_cursor?: string | null;
        };
        /** @description One condition of a rule and what it evaluated to on its own. */
        Explained: {
            /** Format: uint */
            column: number;
            /**
             * Format: uint
             * @description 0 for an operand of the outermost operator, 1 inside that, …
             */
            depth: number;
            /** @description Why it has no value: an error, a budget, or a value that is not a bool. */
            error?: string | null;
            /** @description The condition's text. */
            expr: string;
            /**
             * Format: uint
             * @description 1-based position of its start in the rule.
             */
            line: number;
            /** @description Its value; null when it failed (see `error`). */
            value?: boolean | null;
        };
        /** @description `[path, op, value]`, `{"and": [...]}`, `{"or": [...]}`, or a list of them (all must hold); at most 100 conditions in all. */
        Filter: [
            string,
            "==" | "!=",
            unknown
        ] | [
            string,
            "<" | "<=" | ">" | ">=",
            number | string
        ] | [
            string,
            "array_contains",
            unknown
        ] | [
            string,
            "in" | "not_in" | "array_contains_any",
            unknown[]
        ] | [
            string,
            "exists",
            boolean
        ] | [
            string,
            "prefix",
            string
        ] | {
            and: components["schemas"]["Filter"][];
        } | {
            or: components["schemas"]["Filter"][];
        } | ([
            string,
            "==" | "!=",
            unknown
        ] | [
            string,
            "<" | "<=" | ">" | ">=",
            number | string
        ] | [
            string,
            "array_contains",
            unknown
        ] | [
            string,
            "in" | "not_in" | "array_contains_any",
            unknown[]
        ] | [
            string,
            "exists",
            boolean
        ] | [
            string,
            "prefix",
            string
        ] | {
            and: components["schemas"]["Filter"][];
        } | {
            or: components["schemas"]["Filter"][];
        })[];
        /** @description What an admin saves: the kind, the script and what it listens to. */
        Function: {
            /** @description A trigger's collection, or `auth` / `storage`. */
            collection?: string | null;
            /** Format: date-time */
            created_at: string;
            /** @description A schedule's cron expression (5 fields, or 6 with seconds). */
            cron?: string | null;
            /** @description A trigger's event: `before_create`, `after_update`, `signup`, … */
            event?: string | null;
            /** @description Who may call an http function; without one only admins and service keys may. */
            invoke?: string | null;
            /** @description `http`, `trigger` or `schedule`. */
            kind: string;
            name: string;
            source: string;
            /** @description A schedule's time zone (IANA name); UTC without one. */
            timezone?: string | null;
            /** Format: date-time */
            updated_at: string;
            /**
             * Format: int64
             * @description 1 for the first save, one more for each save after.
             */
            version: number;
        };
        FunctionList: {
            functions: components["schemas"]["Function"][];
        };
        /** @description What an admin saves: the kind, the script and what it listens to. */
        FunctionWithVersions: {
            /** @description A trigger's collection, or `auth` / `storage`. */
            collection?: string | null;
            /** Format: date-time */
            created_at: string;
            /** @description A schedule's cron expression (5 fields, or 6 with seconds). */
            cron?: string | null;
            /** @description A trigger's event: `before_create`, `after_update`, `signup`, … */
            event?: string | null;
            /** @description Who may call an http function; without one only admins and service keys may. */
            invoke?: string | null;
            /** @description `http`, `trigger` or `schedule`. */
            kind: string;
            name: string;
            source: string;
            /** @description A schedule's time zone (IANA name); UTC without one. */
            timezone?: string | null;
            /** Format: date-time */
            updated_at: string;
            /**
             * Format: int64
             * @description 1 for the first save, one more for each save after.
             */
            version: number;
            /** @description The last 20 versions, newest first. */
            versions: components["schemas"]["Version"][];
        };
        Health: {
            /** @description Always `ok` on a 200. */
            status: string;
            version: string;
        };
        /** @description An index: `{"fields": [["age", "asc"], ["city", "desc"]], "unique": false}`. */
        IndexDef: {
            /** @description `[path, "asc" | "desc"]` pairs, 1 to 8. */
            fields: [
                string,
                "asc" | "desc"
            ][];
            /**
             * @description Refuse a write that gives two documents the same values (409 `already_exists`).
             *     Documents where a field is missing or null are not constrained.
             * @default false
             */
            unique: boolean;
        };
        Inspection: {
            /** @description Channels with at least one member, by name. */
            channels: components["schemas"]["ChannelInfo"][];
            /** @description The longest-open first. */
            connections: components["schemas"]["ConnectionInfo"][];
            /** @description The node that answered; connections are this node's, presence is every node's. */
            node: string;
            /**
             * Format: int64
             * @description Open connections on this node (all of them, also past `limit`).
             */
            sockets: number;
            /** @description More connections or channels than `limit` exist. */
            truncated: boolean;
        };
        KeyList: {
            keys: components["schemas"]["ServiceKey"][];
        };
        LogCaller: {
            id?: string | null;
            /** @description `anon`, `user`, `admin` or `service`. */
            kind: string;
        };
        LogEntry: {
            caller: components["schemas"]["LogCaller"];
            /** Format: double */
            duration_ms: number;
            /** @description The error code of a failed request. */
            error?: string | null;
            id: string;
            ip: string;
            method: string;
            /** @description The path without its query string, at most 512 bytes. */
            path: string;
            request_id: string;
            /** @description The route template; `unmatched` for paths no route serves. */
            route: string;
            /** Format: uint16 */
            status: number;
            /** Format: date-time */
            time: string;
        };
        LoginRequest: {
            email: string;
            password: string;
        };
        LoginRequest2: {
            email: string;
            password: string;
        };
        LogPage: {
            entries: components["schemas"]["LogEntry"][];
            /** @description Pass as `after` for the next page; null on the last page. */
            next_cursor?: string | null;
        };
        MagicLinkRequest: {
            email: string;
            /**
             * Format: uri
             * @description Where the mailed link leads; must be on an allowed origin.
             */
            redirect_to?: string | null;
        };
        MailInfo: {
            from: string;
            /** @description `smtp`, or `outbox` when no SMTP server is configured. */
            transport: string;
        };
        MemberInfo: {
            /** @description Connected to the node that answered; else to another node, as it last announced. */
            here: boolean;
            /** @description The member's connection id. */
            id: string;
            presence: unknown;
        };
        Metric: "requests" | "errors" | "client_errors" | "latency_p95";
        MfaChallenge: {
            /** @description Always true: send `mfa_token` and a code to `POST /v1/admin/mfa/verify`. */
            mfa_required: boolean;
            /** @description Single use, for five minutes. */
            mfa_token: string;
        };
        /** @description A key just created: the only time its secret is shown. */
        NewServiceKey: {
            id: string;
            /** @description The full key. Store it now: Basalt keeps only a hash. */
            key: string;
            name: string;
        };
        /** @description What a device shows. */
        Notification: {
            /**
             * @description Up to 2,048 characters.
             * @default
             */
            body: string;
            /**
             * @description Anything the app reads when it handles the notification (FCM gets
             *     each value as a string: strings as they are, others as JSON).
             */
            data?: {
                [key: string]: unknown;
            } | null;
            /** @description 1 to 256 characters. */
            title: string;
            /** @description What a click opens: `https://…`, `http://…` or a path from `/`. */
            url?: string | null;
        };
        /** @description The object of API.md. */
        ObjectInfo: {
            bucket: string;
            content_type: string;
            /** Format: date-time */
            created_at: string;
            etag: string;
            metadata: {
                [key: string]: string;
            };
            path: string;
            /** Format: uint64 */
            size: number;
            /** Format: date-time */
            updated_at: string;
        };
        ObjectList: {
            next_cursor?: string | null;
            objects: components["schemas"]["ObjectInfo"][];
        };
        /**
         * @description A rule's operation.
         * @enum {string}
         */
        OperationName: "read" | "create" | "update" | "delete";
        Outbox: {
            items: components["schemas"]["OutboxItem"][];
        };
        OutboxItem: {
            /** Format: date-time */
            created_at: string;
            subject: string;
            text: string;
            to: string;
            token?: string | null;
        };
        /**
         * @description Transforms apply in this order: `data` (a JSON Merge Patch), then
         *     `increment`, `server_time`, `array_union`, `array_remove`. Keys of the
         *     transforms are dotted paths.
         */
        PatchRequest: {
            /**
             * @description `{"tags": ["a"]}`: remove every equal value.
             * @default {}
             */
            array_remove: {
                [key: string]: unknown[];
            };
            /**
             * @description `{"tags": ["a"]}`: append values not already there.
             * @default {}
             */
            array_union: {
                [key: string]: unknown[];
            };
            /** @default {} */
            data: {
                [key: string]: unknown;
            };
            /**
             * @description `{"likes": 1, "stats.views": -2}`.
             * @default {}
             */
            increment: {
                [key: string]: number;
            };
            /**
             * @description `["seen_at"]`: set to the server's time (RFC 3339).
             * @default []
             */
            server_time: string[];
        };
        Point: {
            /**
             * Format: date-time
             * @description The start of the interval.
             */
            time: string;
            /**
             * Format: double
             * @description Requests in the interval, or milliseconds for `latency_p95` (null without requests).
             */
            value?: number | null;
        };
        Provider: {
            client_id: string;
            issuer?: string | null;
            /** @description `oidc` (OpenID Connect) or `oauth2`. */
            kind: string;
            name: string;
            scopes: string[];
        };
        PutChannelRules: {
            broadcast?: string | null;
            join?: string | null;
        };
        PutRuleCase: {
            /**
             * @description `auth` as the rule sees it: `{uid, role, email, email_verified, anonymous, aal, claims}`; null for anonymous.
             * @default null
             */
            auth: {
                [key: string]: unknown;
            } | null;
            /** @description How the caller is described in lists (1 to 200 characters); `anonymous` when missing. */
            caller?: string | null;
            /**
             * @description `data`: the document data after the write, or null.
             * @default null
             */
            data: unknown;
            /**
             * @description `doc`: `{id, version, created_at, updated_at, data}`, or null.
             * @default null
             */
            doc: {
                [key: string]: unknown;
            } | null;
            /** @description The outcome the case expects. */
            expect_allowed: boolean;
            /** @description `read`, `create`, `update` or `delete`. */
            operation: components["schemas"]["OperationName"];
            /** @default {} */
            request: components["schemas"]["RequestFields"];
        };
        QueryRequest: {
            /** @description The `next_cursor` of the previous page. */
            after?: string | null;
            /**
             * Format: uint64
             * @description 1 to 1000, default 50.
             */
            limit?: number | null;
            /** @description `[[path, "asc" | "desc"], ...]`; `id` breaks ties. */
            order_by?: unknown;
            /** @description Data paths to return; the rest of `data` is left out. */
            select?: string[] | null;
            /** @description A filter: `[path, op, value]`, `{"and": [...]}`, `{"or": [...]}`, or a list (AND). */
            where?: components["schemas"]["Filter"] | null;
        };
        Queued: {
            id: string;
        };
        /** @enum {string} */
        Range: "1h" | "24h" | "7d";
        /** @description A message from the client on `/v1/realtime`. */
        RealtimeClientMessage: {
            token: string;
            /** @constant */
            type: "auth";
        } | {
            collection: string;
            doc_id?: string | null;
            /** @description The client's name for it, 1 to 128 characters. */
            id: string;
            /**
             * Format: int64
             * @description Replay the changes after this `seq` (from a change, `subscribed`
             *     or a `checkpoint`); answered `resync_required` when they are gone.
             */
            resume_from?: number | null;
            /**
             * @description Start with the matching documents.
             * @default false
             */
            snapshot: boolean;
            /** @constant */
            type: "subscribe";
            /** @description A query filter, as in `POST /v1/db/{collection}/query`. */
            where?: unknown;
        } | {
            id: string;
            /** @constant */
            type: "unsubscribe";
        } | {
            channel: string;
            presence?: unknown;
            /** @constant */
            type: "join";
        } | {
            channel: string;
            /** @constant */
            type: "leave";
        } | {
            channel: string;
            event: string;
            /** @default null */
            payload: unknown;
            /** @constant */
            type: "broadcast";
        } | {
            id?: unknown;
            /** @constant */
            type: "ping";
        };
        /** @description A message from the server on `/v1/realtime`. */
        RealtimeServerMessage: {
            id: string;
            /** Format: int64 */
            seq: number;
            /** @constant */
            type: "subscribed";
        } | {
            documents: unknown[];
            id: string;
            /** Format: int64 */
            seq: number;
            /** @constant */
            type: "snapshot";
        } | {
            document: unknown;
            id: string;
            op: components["schemas"]["ChangeOp"];
            /** Format: int64 */
            seq: number;
            /** @constant */
            type: "change";
        } | {
            id: string;
            /** Format: int64 */
            seq: number;
            /** @constant */
            type: "checkpoint";
        } | {
            id: string;
            /** @constant */
            type: "unsubscribed";
        } | {
            /** @constant */
            type: "authenticated";
        } | {
            channel: string;
            member_id: string;
            presence: {
                [key: string]: unknown;
            };
            /** @constant */
            type: "joined";
        } | {
            channel: string;
            /** @constant */
            type: "left";
        } | {
            channel: string;
            joins: {
                [key: string]: unknown;
            };
            leaves: {
                [key: string]: unknown;
            };
            /** @constant */
            type: "presence";
        } | {
            channel: string;
            event: string;
            /** @description The sender's member id. */
            from: string;
            payload: unknown;
            /** @constant */
            type: "broadcast";
        } | {
            id?: unknown;
            /** @constant */
            type: "pong";
        } | {
            channel?: string | null;
            code: string;
            id?: string | null;
            message: string;
            /** @constant */
            type: "error";
        };
        RefreshRequest: {
            refresh_token: string;
        };
        /** @description A device: a browser's push subscription, or an FCM or APNs token. */
        Register: {
            /** @description The push service's URL for this browser (https). */
            endpoint: string;
            /**
             * Format: double
             * @description Ignored: the browser's own expiry, if it has one.
             * @default null
             */
            expirationTime: number | null;
            keys: components["schemas"]["WebKeys"];
            /** @constant */
            kind: "webpush";
        } | {
            /** @constant */
            kind: "fcm";
            token: string;
        } | {
            /** @constant */
            kind: "apns";
            token: string;
            topic: string;
        };
        Report: {
            /** @description Devices by the state of their delivery, over the whole send. */
            counts: components["schemas"]["Counts"];
            /** Format: date-time */
            created_at: string;
            /**
             * Format: int64
             * @description Devices the send reached when it fanned out.
             */
            devices?: number | null;
            id: string;
            next_cursor?: string | null;
            notification: unknown;
            /** @description Users skipped because they were over push_rate_per_user. */
            rate_limited: string[];
            /** @description A page of devices, in the order they were queued. */
            results: components["schemas"]["DeviceResult"][];
            /** @description `admin:<id>`, `service:<id>` or `function:<name>`. */
            sender: string;
            /** @description `queued` (not yet one delivery per device), `sending` or `done`. */
            status: string;
            /** Format: int64 */
            ttl: number;
            urgency: string;
            user_ids: string[];
        };
        /** @description `request` as a playground run describes it; missing fields get defaults. */
        RequestFields: {
            ip?: string | null;
            method?: string | null;
            operation?: string | null;
            /**
             * Format: int64
             * @description ms since the epoch; now when missing.
             */
            time?: number | null;
        };
        ResetRequest: {
            password: string;
            token: string;
        };
        /** @description An admin role. */
        RoleName: "owner" | "developer" | "viewer";
        /** @description A saved case, as stored and shown. */
        RuleCase: {
            /** @description `auth` as the rule sees it; null for anonymous. */
            auth: unknown;
            /** @description How the caller was described: `anonymous`, a user's email, `custom claims`, … */
            caller: string;
            collection: string;
            /** Format: date-time */
            created_at: string;
            data: unknown;
            doc: unknown;
            /** @description The outcome the case expects. */
            expect_allowed: boolean;
            /** @description Unique within its collection. */
            name: string;
            /** @description `read`, `create`, `update` or `delete`. */
            operation: string;
            request: components["schemas"]["RequestFields"];
            /** Format: date-time */
            updated_at: string;
        };
        RuleCaseList: {
            cases: components["schemas"]["RuleCase"][];
        };
        /** @description One scheduled or requested backup, as `GET /v1/admin/backups` shows it. */
        Run: {
            /** Format: uint64 */
            database_bytes: number;
            /** @description Why it failed. */
            error?: string | null;
            location: string;
            /**
             * Format: uint
             * @description Objects deleted while it ran, without their bytes.
             */
            missing: number;
            /** @description The folder's name: the time it started, `YYYYMMDDTHHMMSSZ`. */
            name: string;
            /** Format: uint64 */
            objects: number;
            ok: boolean;
            /** Format: double */
            seconds: number;
            /** Format: date-time */
            started_at: string;
        };
        RunCases: {
            /**
             * @description A draft of the rules to run the cases against instead of the stored
             *     ones, by operation: a rule's text, or null for no rule (which
             *     denies). An operation left out keeps its stored rule.
             * @default {}
             */
            rules: {
                [key: string]: string | null;
            };
        };
        SaveFunction: {
            /**
             * @description For `trigger`: the collection it watches, or `auth` (events `before_signup`, `signup`,
             *     `login`) or `storage` (events `upload`, `delete`).
             */
            collection?: string | null;
            /**
             * @description For `schedule`: a cron expression, 5 fields (minute hour day month weekday) or 6 with
             *     seconds first.
             */
            cron?: string | null;
            /**
             * @description For `trigger`: `before_create`, `before_update`, `before_delete` (in the write's
             *     transaction), `after_create`, `after_update` or `after_delete` (after commit, from the
             *     outbox).
             */
            event?: string | null;
            /**
             * @description For `http`: a rule (like a collection rule) that sees `auth`, `request` and `data` (the
             *     arguments). Without one, only admins and service keys may call the function.
             */
            invoke?: string | null;
            /**
             * @description `http`, `trigger` or `schedule`.
             * @enum {string}
             */
            kind: "http" | "trigger" | "schedule";
            /** @description The Rhai script. */
            source: string;
            /** @description For `schedule`: an IANA time zone (`Europe/Paris`); UTC without one. */
            timezone?: string | null;
        };
        SaveWebhook: {
            /** @description Default true; setting it true again also clears a 410's disabling. */
            enabled?: boolean | null;
            /** @description Event patterns: `posts.create`, `posts.*` (every change of a collection), `*`. */
            events: string[];
            /** @description A `whsec_…` secret (base64 of 24 to 64 bytes); one is made when a new webhook has none. */
            secret?: string | null;
            /**
             * Format: uri
             * @description Where events are POSTed: http:// or https://.
             */
            url: string;
        };
        SendBody: {
            notification: components["schemas"]["Notification"];
            /**
             * Format: uint32
             * @description Seconds a push service keeps it for an offline device: 0 to 2,419,200 (28 days, the default).
             */
            ttl?: number | null;
            /** @description `very-low`, `low`, `normal` (default) or `high`. */
            urgency?: components["schemas"]["Urgency"] | null;
            /** @description One user, or */
            user_id?: string | null;
            /** @description up to 1,000 (not both). */
            user_ids?: string[] | null;
        } & ({
            user_id: string;
        } | {
            user_ids: unknown[];
        });
        Sent: {
            /** @description `smtp` (the SMTP server accepted it) or `outbox` (kept in the outbox). */
            transport: string;
        };
        Series: {
            points: components["schemas"]["Point"][];
            /**
             * Format: int64
             * @description Minutes per point.
             */
            step_minutes: number;
        };
        ServiceKey: {
            /** Format: date-time */
            created_at: string;
            id: string;
            /** Format: date-time */
            last_used_at?: string | null;
            name: string;
        };
        SessionInfo: {
            /** Format: date-time */
            created_at: string;
            /** @description Whether this is the session of the token making the request. */
            current: boolean;
            id: string;
            ip?: string | null;
            /** Format: date-time */
            last_used_at: string;
            user_agent?: string | null;
        };
        SessionList: {
            sessions: components["schemas"]["SessionInfo"][];
        };
        /** @description The session object of API.md, returned by every sign-in. */
        SessionTokens: {
            access_token: string;
            /**
             * Format: uint64
             * @description Seconds until `access_token` expires.
             */
            expires_in: number;
            /** @description Opaque; exchange it at `POST /v1/auth/refresh`. Single use. */
            refresh_token: string;
            /** @description Always `bearer`. */
            token_type: string;
            user: components["schemas"]["User"];
        };
        SetDocument: {
            data: {
                [key: string]: unknown;
            };
        };
        Setting: {
            /** @description The name in the config file (`BASALT_<KEY>` in the environment). */
            key: string;
            /** @description A secret's value is never shown. */
            secret: boolean;
            /** @description Whether a value is in effect (for a secret: whether it is configured). */
            set: boolean;
            /** @description The value in effect; null for a secret or a setting left unset. */
            value: unknown;
        };
        Signed: {
            url: string;
        };
        SignRequest: {
            /**
             * Format: uint64
             * @description Seconds the URL works, 1 to 604800.
             */
            expires_in: number;
        };
        SignupRequest: {
            /**
             * @description Initial profile data.
             * @default {}
             */
            data: {
                [key: string]: unknown;
            };
            email: string;
            /** @description 8 to 256 characters. */
            password: string;
        };
        Started: {
            /** @description The folder it writes, under backup_to. */
            name: string;
        };
        Stats: {
            /** Format: int64 */
            collections: number;
            /**
             * Format: int64
             * @description Open realtime connections.
             */
            connections: number;
            /** Format: int64 */
            documents: number;
            /** @description Documents per collection, by name. */
            documents_by_collection: {
                [key: string]: number;
            };
            /** Format: int64 */
            objects: number;
            /** Format: int64 */
            users: number;
        };
        /** @description Scheduled backups: their settings, the next slot, the last run. */
        Status: {
            /** @description The backups at `to`, newest first. */
            backups: string[];
            /** Format: uint32 */
            keep: number;
            last?: components["schemas"]["Run"] | null;
            /** Format: date-time */
            next_at?: string | null;
            running: boolean;
            /** @description `backup_schedule`; none: no scheduled backups (a backup can still be asked for). */
            schedule?: string | null;
            to?: string | null;
        };
        Subscription: {
            /** @description The Web Push endpoint, or the FCM or APNs token. */
            address: string;
            /** Format: date-time */
            created_at: string;
            id: string;
            /** @description `webpush`, `fcm` or `apns`. */
            kind: string;
            topic?: string | null;
            /** Format: date-time */
            updated_at: string;
            user_id: string;
        };
        SubscriptionInfo: {
            /** @description `*` for every collection. */
            collection: string;
            doc_id?: string | null;
            /** @description The client's name for it. */
            id: string;
        };
        SubscriptionList: {
            subscriptions: components["schemas"]["Subscription"][];
        };
        SubscriptionPage: {
            next_cursor?: string | null;
            subscriptions: components["schemas"]["Subscription"][];
        };
        TestMail: {
            /** @description The address to send to. */
            to: string;
        };
        TokenRequest: {
            token: string;
        };
        UpdateAdmin: {
            email?: string | null;
            password?: string | null;
            role?: components["schemas"]["RoleName"] | null;
        };
        UpdateBucket: {
            allowed_types?: string[] | null;
            /**
             * Format: uint64
             * @description A number, or null to remove the limit.
             * @default null
             */
            max_object_size: number | null;
            public?: boolean | null;
            /** @description Replaces the rules. */
            rules?: components["schemas"]["BucketRules"] | null;
        };
        UpdateCollection: {
            /** @description Replaces the indexes (they are rebuilt). */
            indexes?: components["schemas"]["IndexDef"][] | null;
            /** @description Replaces the rules. */
            rules?: components["schemas"]["CollectionRules"] | null;
            /**
             * @description Replaces the schema; null removes it. Stored documents are not checked again.
             * @default null
             */
            schema: Record<string, never> | boolean | null;
        };
        UpdateUser: {
            /** @description Required to change an existing password. */
            current_password?: string | null;
            /** @description A JSON Merge Patch (RFC 7396) of the profile data. */
            data?: {
                [key: string]: unknown;
            } | null;
            email?: string | null;
            password?: string | null;
        };
        /**
         * @description How soon a push service should wake the device.
         * @enum {string}
         */
        Urgency: "very-low" | "low" | "normal" | "high";
        /** @description The user object of API.md. Never carries a hash or a secret. */
        User: {
            anonymous: boolean;
            /** @description Custom claims set by admins; they appear in access tokens. */
            claims: {
                [key: string]: unknown;
            };
            /** Format: date-time */
            created_at: string;
            /** @description The app's profile data. */
            data: {
                [key: string]: unknown;
            };
            /** @description Disabled users cannot sign in or refresh. */
            disabled: boolean;
            /** @description `null` for an anonymous user. */
            email?: string | null;
            email_verified: boolean;
            id: string;
            mfa_enabled: boolean;
            /** Format: date-time */
            updated_at: string;
        };
        UserPage: {
            /** @description Pass as `after` for the next page; null on the last page. */
            next_cursor?: string | null;
            users: components["schemas"]["User"][];
        };
        VapidKey: {
            /** @description The uncompressed P-256 point, base64url: `applicationServerKey`. */
            public_key: string;
        };
        VerifyRequest: {
            /** @description A 6-digit TOTP code or a recovery code. */
            code: string;
            mfa_token: string;
        };
        VerifyRequest2: {
            /** @description A 6-digit TOTP code or a recovery code. */
            code: string;
            mfa_token: string;
        };
        /** @description What an admin saves: the kind, the script and what it listens to. */
        Version: {
            /** @description A trigger's collection, or `auth` / `storage`. */
            collection?: string | null;
            /** Format: date-time */
            created_at: string;
            /** @description A schedule's cron expression (5 fields, or 6 with seconds). */
            cron?: string | null;
            /** @description A trigger's event: `before_create`, `after_update`, `signup`, … */
            event?: string | null;
            /** @description Who may call an http function; without one only admins and service keys may. */
            invoke?: string | null;
            /** @description `http`, `trigger` or `schedule`. */
            kind: string;
            source: string;
            /** @description A schedule's time zone (IANA name); UTC without one. */
            timezone?: string | null;
            /** Format: int64 */
            version: number;
        };
        Webhook: {
            /** Format: date-time */
            created_at: string;
            /** @description Why the server turned it off (the receiver answered 410), if it did. */
            disabled_reason?: string | null;
            enabled: boolean;
            /** @description Event patterns: `posts.create`, `posts.*`, `*`. */
            events: string[];
            name: string;
            /** @description The signing secret (`whsec_…`): only in the answer that created or replaced it. */
            secret?: string | null;
            /** Format: date-time */
            updated_at: string;
            url: string;
        };
        WebhookList: {
            webhooks: components["schemas"]["Webhook"][];
        };
        WebKeys: {
            /** @description The 16-byte auth secret, base64url. */
            auth: string;
            /** @description The browser's P-256 public key, base64url. */
            p256dh: string;
        };
    };
    responses: {
        /** @description Every failure: see the error codes in the API reference. */
        Error: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["Error"];
            };
        };
    };
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    get_metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Metrics in the Prometheus text format */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain; version=0.0.4": string;
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_admins: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every admin */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_admins: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateAdmin"];
            };
        };
        responses: {
            /** @description The new admin */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Admin"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_admins_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    patch_admin_admins_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateAdmin"];
            };
        };
        responses: {
            /** @description The admin */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Admin"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_admins_by_id_mfa: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description MFA removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_audit: {
        parameters: {
            query?: {
                /** @description Only entries whose action starts with this (`collection.`, `key.create`). */
                action?: string | null;
                /** @description The `next_cursor` of the previous page. */
                after?: string | null;
                /** @description 1 to 1000, default 100. */
                limit?: number | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of audit entries */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditPage"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_backups: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The state of backups */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Status"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_backups: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The backup started */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Started"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_channels: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every pattern's rules */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ChannelRulesList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    put_admin_channels_by_pattern: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                pattern: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PutChannelRules"];
            };
        };
        responses: {
            /** @description The pattern's rules */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ChannelRules"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_channels_by_pattern: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                pattern: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_deliveries_by_id_retry: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Queued again */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_executions_by_id_retry: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Queued again */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_functions: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every function, by name */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FunctionList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_functions_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The function */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["FunctionWithVersions"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    put_admin_functions_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SaveFunction"];
            };
        };
        responses: {
            /** @description The function, changed */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Function"];
                };
            };
            /** @description The function, created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Function"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_functions_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_functions_by_name_executions: {
        parameters: {
            query?: {
                /** @description The `next_cursor` of the previous page. */
                after?: string | null;
                /** @description 1 to 100, default 50. */
                limit?: number | null;
                /** @description `ok`, `error`, `retrying` or `dead`. */
                status?: "ok" | "error" | "retrying" | "dead" | null;
            };
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of executions */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ExecutionPage"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_keys: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Service keys, without their secrets */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["KeyList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_keys: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateKey"];
            };
        };
        responses: {
            /** @description The new key */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NewServiceKey"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_keys_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Revoked */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_login: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoginRequest"];
            };
        };
        responses: {
            /** @description An admin token, or `{mfa_required: true, mfa_token}` when the admin has MFA on */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminLogin"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_logs: {
        parameters: {
            query?: {
                /** @description The `next_cursor` of the previous page. */
                after?: string | null;
                /** @description A caller kind (`anon`, `user`, `admin`, `service`), or `kind:id`. */
                caller?: string | null;
                /** @description 1 to 1000, default 100. */
                limit?: number | null;
                method?: string | null;
                /** @description Part of the path, or a whole request id or error code. */
                q?: string | null;
                /** @description A route template, as in the entries (`/v1/db/{collection}/{id}`). */
                route?: string | null;
                /** @description RFC 3339 time: entries at or after it. */
                since?: string | null;
                /** @description A status (`404`) or a class (`4xx`, `5xx`). */
                status?: string | null;
                /** @description RFC 3339 time: entries before it. */
                until?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of log entries */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["LogPage"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_me: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The admin */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Admin"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_mfa_totp: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CodeRequest2"];
            };
        };
        responses: {
            /** @description MFA is off */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_mfa_totp_confirm: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CodeRequest2"];
            };
        };
        responses: {
            /** @description The admin, with mfa_enabled true */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Admin"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_mfa_totp_enroll: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Show the secret as a QR code; keep the recovery codes */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Enrolment"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_mfa_verify: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["VerifyRequest2"];
            };
        };
        responses: {
            /** @description An admin token */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdminSession"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_outbox: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Outbox items */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Outbox"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_push: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SendBody"];
            };
        };
        responses: {
            /** @description Queued: `GET /v1/admin/push/{id}` shows each device */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Queued"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_push_by_id: {
        parameters: {
            query?: {
                /** @description The `next_cursor` of the previous page. */
                after?: string | null;
                /** @description Devices per page: 1 to 1,000, default 100. */
                limit?: number | null;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The send */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Report"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_push_subscriptions: {
        parameters: {
            query?: {
                /** @description The `next_cursor` of the previous page. */
                after?: string | null;
                /** @description 1 to 500, default 100. */
                limit?: number | null;
                /** @description Only this user's devices. */
                user_id?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of devices */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SubscriptionPage"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_push_subscriptions_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_realtime: {
        parameters: {
            query?: {
                /** @description Most connections and most channels listed, 1 to 1000, default 200. */
                limit?: number | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Connections and channels */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Inspection"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_rules_cases: {
        parameters: {
            query?: {
                /** @description Only this collection's cases. */
                collection?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The cases, by collection and name */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RuleCaseList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    put_admin_rules_cases_by_collection_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                collection: string;
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PutRuleCase"];
            };
        };
        responses: {
            /** @description The saved case */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RuleCase"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_rules_cases_by_collection_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                collection: string;
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_rules_cases_by_collection_run: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                collection: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RunCases"];
            };
        };
        responses: {
            /** @description Each case's outcome and whether it changed */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CaseRun"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_rules_evaluate: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EvaluateRequest"];
            };
        };
        responses: {
            /** @description Whether the rule allows, and why not */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EvaluateResponse"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_settings: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every setting, mail and the OAuth providers */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Effective"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_settings_test_mail: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TestMail"];
            };
        };
        responses: {
            /** @description Delivered to the SMTP server, or kept in the outbox */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Sent"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_stats: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The counts */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Stats"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_stats_series: {
        parameters: {
            query: {
                metric: components["schemas"]["Metric"];
                /** @description `1h` (60 points of a minute), `24h` (96 of 15 minutes) or `7d` (168 of an hour); default `1h`. */
                range?: components["schemas"]["Range"] | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Points, oldest first, ending with the current interval */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Series"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_users: {
        parameters: {
            query?: {
                /** @description The `next_cursor` of the previous page. */
                after?: string | null;
                /** @description 1 to 1000, default 50. */
                limit?: number | null;
                /** @description Matches part of the email, or the whole id. */
                q?: string | null;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of users ordered by id */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserPage"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_users: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateUser"];
            };
        };
        responses: {
            /** @description The new user */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_users_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The user */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_users_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    patch_admin_users_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["AdminUpdate"];
            };
        };
        responses: {
            /** @description The updated user */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_admin_users_by_id_logout: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Signed out everywhere */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_users_by_id_mfa: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description MFA removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_users_by_id_sessions: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Sessions */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_users_by_id_sessions_by_session_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                session_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ended */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_webhooks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every webhook, by name */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_webhooks_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The webhook */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    put_admin_webhooks_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SaveWebhook"];
            };
        };
        responses: {
            /** @description The webhook, changed */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            /** @description The webhook, created, with `secret` */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_admin_webhooks_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    get_admin_webhooks_by_name_deliveries: {
        parameters: {
            query?: {
                /** @description The `next_cursor` of the previous page. */
                after?: string | null;
                /** @description 1 to 100, default 50. */
                limit?: number | null;
                /** @description `pending`, `retrying`, `ok` or `dead`. */
                status?: "pending" | "retrying" | "ok" | "dead" | null;
            };
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of deliveries */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeliveryPage"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_anonymous: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["Empty"];
            };
        };
        responses: {
            /** @description A session of an anonymous user */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionTokens"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_auth_jwks_json: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A JSON Web Key Set */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_login: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoginRequest2"];
            };
        };
        responses: {
            /** @description A session, or `{mfa_required: true, mfa_token}` when MFA is on */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionTokens"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_logout: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Signed out */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_magic_link: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["MagicLinkRequest"];
            };
        };
        responses: {
            /** @description Accepted */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_magic_link_verify: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TokenRequest"];
            };
        };
        responses: {
            /** @description A session */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionTokens"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_auth_mfa_totp: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The user, with mfa_enabled false */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_mfa_totp_confirm: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CodeRequest"];
            };
        };
        responses: {
            /** @description The user, with mfa_enabled true */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_mfa_totp_enroll: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: {
            content: {
                "application/json": components["schemas"]["EnrolRequest"];
            };
        };
        responses: {
            /** @description Show the secret as a QR code; keep the recovery codes */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Enrolment"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_mfa_verify: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["VerifyRequest"];
            };
        };
        responses: {
            /** @description A session with aal 2 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionTokens"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_auth_oauth_by_provider_authorize: {
        parameters: {
            query: {
                /** @description Where to send the user afterwards; must be on an allowed origin. */
                redirect_to: string;
            };
            header?: never;
            path: {
                provider: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description To the provider's sign-in page */
            302: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    get_auth_oauth_by_provider_callback: {
        parameters: {
            query: {
                code?: string | null;
                error?: string | null;
                error_description?: string | null;
                /** @description The `state` the sign-in started with: required. */
                state: string;
            };
            header?: never;
            path: {
                provider: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description To redirect_to#access_token=…&refresh_token=…&expires_in=… or #error=… */
            302: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_oauth_by_provider_callback: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                provider: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/x-www-form-urlencoded": string;
            };
        };
        responses: {
            /** @description As the GET callback */
            302: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_password_forgot: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EmailRequest"];
            };
        };
        responses: {
            /** @description Accepted */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_password_reset: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["ResetRequest"];
            };
        };
        responses: {
            /** @description The user */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_refresh: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["RefreshRequest"];
            };
        };
        responses: {
            /** @description A new session */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionTokens"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_auth_sessions: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Live sessions, newest first */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_auth_sessions_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ended */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_signup: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SignupRequest"];
            };
        };
        responses: {
            /** @description Signed up and in (or `{user, session: null}` when email confirmation is required) */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionTokens"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_auth_user: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The user */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    patch_auth_user: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateUser"];
            };
        };
        responses: {
            /** @description The updated user */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_verify: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["TokenRequest"];
            };
        };
        responses: {
            /** @description The user, with email_verified true */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["User"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_auth_verify_send: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["EmailRequest"];
            };
        };
        responses: {
            /** @description Accepted */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    get_db_by_collection: {
        parameters: {
            query?: {
                after?: string | null;
                /** @description 1 to 1000, default 50. */
                limit?: number | null;
                /** @description `field` (ascending) or `-field` (descending); default `id`. */
                order?: string | null;
            };
            header?: never;
            path: {
                collection: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of documents */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DocumentList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_db_by_collection: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                collection: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateDocument"];
            };
        };
        responses: {
            /** @description The new document */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DocumentBody"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_db_by_collection_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                collection: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The document */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DocumentBody"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    put_db_by_collection_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                collection: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SetDocument"];
            };
        };
        responses: {
            /** @description Replaced */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DocumentBody"];
                };
            };
            /** @description Created */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DocumentBody"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_db_by_collection_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                collection: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    patch_db_by_collection_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                collection: string;
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["PatchRequest"];
            };
        };
        responses: {
            /** @description The document */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DocumentBody"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_db_by_collection_count: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                collection: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CountRequest"];
            };
        };
        responses: {
            /** @description How many */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CountResult"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_db_by_collection_query: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                collection: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["QueryRequest"];
            };
        };
        responses: {
            /** @description A page of documents */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DocumentList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_db_batch: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["BatchRequest"];
            };
        };
        responses: {
            /** @description One result per operation: the document, or null after a delete */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BatchResults"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_db_collections: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every collection */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["CollectionList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_db_collections: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateCollection"];
            };
        };
        responses: {
            /** @description The new collection */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Collection"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_db_collections_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The collection */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Collection"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_db_collections_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    patch_db_collections_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateCollection"];
            };
        };
        responses: {
            /** @description The collection */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Collection"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_functions_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": unknown;
            };
        };
        responses: {
            /** @description What the function returned */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_health: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The process is up */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_health_ready: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready to serve */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_openapi_json: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description OpenAPI 3.1 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": string;
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_push_subscriptions: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Every device of the caller */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SubscriptionList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_push_subscriptions: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["Register"];
            };
        };
        responses: {
            /** @description Already registered: updated, and now the caller's */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Subscription"];
                };
            };
            /** @description Registered */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Subscription"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_push_subscriptions_by_id: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Removed */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    get_push_vapid: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The key */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VapidKey"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_realtime: {
        parameters: {
            query?: {
                /** @description An access token; a bad one fails the handshake with 401. Or send `{"type":"auth"}` later. */
                token?: string | null;
            };
            header: {
                /** @description `Upgrade` */
                connection: string;
                /** @description 16 random bytes in base64 */
                "sec-websocket-key": string;
                /** @description `13` */
                "sec-websocket-version": "13";
                /** @description `websocket` */
                upgrade: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Switching to the WebSocket protocol */
            101: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": string;
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_storage_by_bucket: {
        parameters: {
            query?: {
                after?: string | null;
                /** @description 1 to 1000, default 100. */
                limit?: number | null;
                prefix?: string | null;
            };
            header?: never;
            path: {
                bucket: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of objects ordered by path */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ObjectList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_storage_by_bucket_by_path: {
        parameters: {
            query?: {
                /** @description Download as an attachment with this file name. */
                download?: string | null;
                /** @description Signed URLs: expiry, seconds since the epoch. */
                expires?: number | null;
                /** @description Signed URLs: the signature. */
                sig?: string | null;
            };
            header?: never;
            path: {
                bucket: string;
                path: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The bytes */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "*/*": string;
                };
            };
            /** @description The requested range */
            206: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "*/*": string;
                };
            };
            default: components["responses"]["Error"];
        };
    };
    put_storage_by_bucket_by_path: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                bucket: string;
                path: string;
            };
            cookie?: never;
        };
        requestBody?: {
            content: {
                "*/*": string;
            };
        };
        responses: {
            /** @description The stored object */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ObjectInfo"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_storage_by_bucket_by_path: {
        parameters: {
            query: {
                /** @description Present (empty) to ask for a signed URL. */
                sign: string;
            };
            header?: never;
            path: {
                bucket: string;
                path: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["SignRequest"];
            };
        };
        responses: {
            /** @description A path with query string, relative to the server */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Signed"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_storage_by_bucket_by_path: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                bucket: string;
                path: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    get_storage_buckets: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Buckets */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["BucketList"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    post_storage_buckets: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateBucket"];
            };
        };
        responses: {
            /** @description The new bucket */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Bucket"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    get_storage_buckets_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The bucket */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Bucket"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
    delete_storage_buckets_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Deleted */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            default: components["responses"]["Error"];
        };
    };
    patch_storage_buckets_by_name: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateBucket"];
            };
        };
        responses: {
            /** @description The bucket */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Bucket"];
                };
            };
            default: components["responses"]["Error"];
        };
    };
}
