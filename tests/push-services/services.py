"""Push services for Basalt's tests, on loopback, written with libraries
independent of Basalt's: a Web Push service that checks the VAPID token
with `py-vapid` and decrypts every payload with `http_ece`; an FCM OAuth2
token endpoint and `messages:send` that check the RS256 assertion and the
bearer token with PyJWT; and an APNs server on HTTP/2 over TLS (hypercorn)
that checks the path, `apns-topic`, `apns-push-type` and the ES256 provider
token with PyJWT.

They prove the shape of Basalt's requests, not that Google or Apple accept
them.

It makes its own keys and certificates in a temporary directory: ca.pem
(to trust for the TLS port), fcm.json (a service account whose token_uri is
here), apns.p8 with key id KEY1234567 and team TEAM123456.

Usage: python3 services.py
Prints one JSON line: {"http": PORT, "tls": PORT, "dir": DIR}.

HTTP routes:
  GET  /webpush/new?mode=ok|gone|flaky   a browser's subscription (keys made here)
  POST /wp/<id>                          the Web Push endpoint of a subscription
  POST /token                            FCM's OAuth2 token endpoint
  POST /v1/projects/<p>/messages:send    FCM; a token starting "gone" is UNREGISTERED
  GET  /log, GET /stats                  what arrived; token exchanges
TLS (HTTP/2) routes:
  POST /3/device/<token>                 APNs; a token starting "00" is Unregistered (410)
"""

import asyncio
import base64
import datetime
import json
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from urllib.parse import parse_qs

import http_ece
import jwt
import py_vapid
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypercorn.asyncio import serve
from hypercorn.config import Config

KEY_ID = "KEY1234567"
TEAM_ID = "TEAM123456"
PROJECT = "basalt-test"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"

LOG = []
LOCK = threading.Lock()
SUBS = {}  # id -> (private key, auth secret, mode)
TOKENS = set()
STATS = {"token_requests": 0}
SEEN = set()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_files(directory, http_port):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Basalt test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    with open(os.path.join(directory, "ca.pem"), "wb") as f:
        f.write(ca.public_bytes(pem))
    with open(os.path.join(directory, "server.pem"), "wb") as f:
        f.write(cert.public_bytes(pem))
    with open(os.path.join(directory, "server.key"), "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "fcmkey1",
        "private_key": rsa_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()).decode(),
        "client_email": "basalt@basalt-test.iam.gserviceaccount.com",
        "token_uri": f"http://127.0.0.1:{http_port}/token",
    }
    with open(os.path.join(directory, "fcm.json"), "w") as f:
        json.dump(account, f)
    apns_key = ec.generate_private_key(ec.SECP256R1())
    with open(os.path.join(directory, "apns.p8"), "wb") as f:
        f.write(apns_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return account, rsa_key.public_key(), apns_key.public_key()


def record(entry):
    with LOCK:
        LOG.append(entry)


class App:
    def __init__(self, http_port, account, fcm_public, apns_public):
        self.origin = f"http://127.0.0.1:{http_port}"
        self.account = account
        self.fcm_public = fcm_public
        self.apns_public = apns_public

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, answer, extra = self.route(scope, headers, body)
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        out = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        out += [(k.encode(), v.encode()) for k, v in extra]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": data})

    def route(self, scope, headers, body):
        path, method = scope["path"], scope["method"]
        tls = scope.get("scheme") == "https"
        if tls:
            if method == "POST" and path.startswith("/3/device/"):
                return self.apns(scope, headers, body, path[len("/3/device/"):])
            return 404, {"reason": "BadPath"}, []
        if method == "GET" and path == "/log":
            with LOCK:
                return 200, list(LOG), []
        if method == "GET" and path == "/stats":
            return 200, dict(STATS), []
        if method == "GET" and path == "/webpush/new":
            mode = parse_qs(scope["query_string"].decode()).get("mode", ["ok"])[0]
            return 200, self.new_subscription(mode), []
        if method == "POST" and path.startswith("/wp/"):
            return self.webpush(headers, body, path[len("/wp/"):])
        if method == "POST" and path == "/token":
            return self.token(headers, body)
        if method == "POST" and path.startswith("/v1/projects/") and path.endswith("/messages:send"):
            return self.fcm(headers, body, path.split("/")[3])
        return 404, {"error": "no such route"}, []

    # ------------------------------------------------------------ Web Push
    def new_subscription(self, mode):
        key = ec.generate_private_key(ec.SECP256R1())
        auth = secrets.token_bytes(16)
        sid = secrets.token_hex(8)
        SUBS[sid] = (key, auth, mode)
        public = key.public_key().public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": f"{self.origin}/wp/{sid}", "keys": {"p256dh": b64url(public), "auth": b64url(auth)}}

    def webpush(self, headers, body, sid):
        if sid not in SUBS:
            return 404, {"error": "no such subscription"}, []
        key, auth, mode = SUBS[sid]
        if mode == "gone":
            record({"service": "webpush", "device": sid, "answered": 410})
            return 410, {"error": "gone"}, []
        problems = []
        authorization = headers.get("authorization", "")
        vapid_key = None
        claims = {}
        try:
            if not py_vapid.Vapid02.verify(authorization):
                problems.append("the VAPID signature does not verify")
            parts = dict(p.split("=", 1) for p in authorization.split(" ", 1)[1].split(","))
            vapid_key = parts["k"]
            claims = jwt.decode(parts["t"], options={"verify_signature": False})
        except Exception as e:  # noqa: BLE001 - any malformed header is a finding
            problems.append(f"the Authorization header does not read: {e!r}")
        now = time.time()
        if claims.get("aud") != self.origin:
            problems.append(f"aud {claims.get('aud')!r} is not {self.origin}")
        if not (now < claims.get("exp", 0) <= now + 24 * 3600 + 60):
            problems.append(f"exp {claims.get('exp')!r} is not within 24 h")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https://")):
            problems.append(f"sub {claims.get('sub')!r} is not mailto: or https:")
        if headers.get("content-encoding") != "aes128gcm":
            problems.append("Content-Encoding is not aes128gcm")
        if "ttl" not in headers:
            problems.append("no TTL header")
        payload = None
        try:
            plain = http_ece.decrypt(body, private_key=key, auth_secret=auth, version="aes128gcm")
            payload = json.loads(plain)
        except Exception as e:  # noqa: BLE001
            problems.append(f"the payload does not decrypt: {e!r}")
        entry = {"service": "webpush", "device": sid, "payload": payload, "vapid_key": vapid_key,
                 "ttl": headers.get("ttl"), "urgency": headers.get("urgency"), "problems": problems,
                 "bytes": len(body)}
        if mode == "flaky" and payload and (sid, payload.get("id")) not in SEEN:
            SEEN.add((sid, payload.get("id")))
            entry["answered"] = 500
            record(entry)
            return 500, {"error": "try again"}, []
        entry["answered"] = 400 if problems else 201
        record(entry)
        return entry["answered"], {}, [("location", f"{self.origin}/messages/{secrets.token_hex(6)}")]

    # ----------------------------------------------------------------- FCM
    def token(self, headers, body):
        STATS["token_requests"] += 1
        form = parse_qs(body.decode())
        problems = []
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            problems.append("grant_type")
        try:
            assertion = form["assertion"][0]
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, self.fcm_public, algorithms=["RS256"],
                                audience=self.account["token_uri"])
            if header.get("kid") != self.account["private_key_id"]:
                problems.append("kid")
            if claims.get("iss") != self.account["client_email"]:
                problems.append("iss")
            if claims.get("scope") != SCOPE:
                problems.append("scope")
            if not claims["iat"] <= time.time() + 60 < claims["exp"] + 60 <= claims["iat"] + 3600 + 120:
                problems.append("iat/exp")
        except Exception as e:  # noqa: BLE001
            problems.append(f"assertion: {e!r}")
        record({"service": "fcm-token", "problems": problems})
        if problems:
            return 400, {"error": "invalid_grant", "problems": problems}, []
        token = secrets.token_urlsafe(24)
        TOKENS.add(token)
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}, []

    def fcm(self, headers, body, project):
        bearer = headers.get("authorization", "")
        if not bearer.startswith("Bearer ") or bearer[7:] not in TOKENS:
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, []
        if project != PROJECT:
            return 403, {"error": {"code": 403, "status": "PERMISSION_DENIED"}}, []
        message = json.loads(body)["message"]
        token = message["token"]
        if token.startswith("gone"):
            record({"service": "fcm", "device": token, "answered": 404})
            return 404, {"error": {"code": 404, "status": "NOT_FOUND", "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}}, []
        problems = []
        if not isinstance(message.get("notification", {}).get("title"), str):
            problems.append("notification.title")
        if any(not isinstance(v, str) for v in message.get("data", {}).values()):
            problems.append("data values are not all strings")
        record({"service": "fcm", "device": token, "message": message, "problems": problems, "answered": 200})
        return 200, {"name": f"projects/{PROJECT}/messages/{secrets.randbelow(10**12)}"}, []

    # ---------------------------------------------------------------- APNs
    def apns(self, scope, headers, body, token):
        problems = []
        if scope.get("http_version") != "2":
            problems.append(f"HTTP/{scope.get('http_version')}, not HTTP/2")
        authorization = headers.get("authorization", "")
        try:
            if not authorization.startswith("bearer "):
                raise ValueError("not a bearer token")
            provider = authorization[7:]
            header = jwt.get_unverified_header(provider)
            claims = jwt.decode(provider, self.apns_public, algorithms=["ES256"])
            if header.get("kid") != KEY_ID:
                problems.append("kid")
            if claims.get("iss") != TEAM_ID:
                problems.append("iss")
            if not time.time() - 3600 <= claims.get("iat", 0) <= time.time() + 60:
                problems.append("iat")
        except Exception as e:  # noqa: BLE001
            problems.append(f"provider token: {e!r}")
        if headers.get("apns-push-type") != "alert":
            problems.append("apns-push-type")
        topic = headers.get("apns-topic")
        if not topic:
            problems.append("apns-topic")
        if token.startswith("00"):
            record({"service": "apns", "device": token, "answered": 410})
            return 410, {"reason": "Unregistered", "timestamp": int(time.time() * 1000)}, []
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
            problems.append("the body is not JSON")
        entry = {"service": "apns", "device": token, "topic": topic, "payload": payload,
                 "priority": headers.get("apns-priority"), "expiration": headers.get("apns-expiration"),
                 "problems": problems, "answered": 400 if problems else 200}
        record(entry)
        if problems:
            return 403, {"reason": "InvalidProviderToken"}, []
        return 200, b"", [("apns-id", "2b3a7c1e-0000-4000-8000-000000000000")]


async def main():
    directory = tempfile.mkdtemp(prefix="basalt-push-")
    http_port, tls_port = free_port(), free_port()
    account, fcm_public, apns_public = make_files(directory, http_port)
    config = Config()
    config.bind = [f"127.0.0.1:{tls_port}"]
    config.insecure_bind = [f"127.0.0.1:{http_port}"]
    config.certfile = os.path.join(directory, "server.pem")
    config.keyfile = os.path.join(directory, "server.key")
    config.alpn_protocols = ["h2", "http/1.1"]
    config.accesslog = None
    config.errorlog = None
    config.loglevel = "WARNING"
    app = App(http_port, account, fcm_public, apns_public)
    started = asyncio.Event()

    async def announce():
        for _ in range(200):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", http_port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.02)
        print(json.dumps({"http": http_port, "tls": tls_port, "dir": directory}), flush=True)
        started.set()

    await asyncio.gather(serve(app, config), announce())


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
