"""JSON Web Tokens as distribution's token auth uses them: RS256/ES256 signatures, an ``x5c``
certificate chain in the header, and ``access`` claims naming repositories and actions."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass


class TokenInvalid(Exception):
    pass


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Access:
    type: str
    name: str
    actions: tuple[str, ...]

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def parse_scope(text: str) -> list[Access]:
    """``repository:library/busybox:pull,push`` (several scopes may be space-separated)."""
    out = []
    for item in text.split():
        kind, _, rest = item.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind and name:
            out.append(Access(kind, name, tuple(a for a in actions.split(",") if a)))
    return out


def _hash_for(alg: str):
    from cryptography.hazmat.primitives import hashes

    return {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]


def sign(claims: dict, key_pem: bytes, chain_der: list[bytes]) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    key = serialization.load_pem_private_key(key_pem, password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        alg = "RS256"
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {256: "ES256", 384: "ES384", 521: "ES512"}[key.curve.key_size]
    else:
        raise TokenInvalid("the signing key must be RSA or ECDSA")
    header = {"typ": "JWT", "alg": alg, "x5c": [base64.b64encode(der).decode() for der in chain_der]}
    signing_input = f"{b64encode(json.dumps(header).encode())}.{b64encode(json.dumps(claims).encode())}".encode()
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signing_input, padding.PKCS1v15(), _hash_for(alg))
    else:
        der = key.sign(signing_input, ec.ECDSA(_hash_for(alg)))
        r, s = utils.decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return signing_input.decode() + "." + b64encode(signature)


def _verify_with(public_key, alg: str, signing_input: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    try:
        if alg.startswith("RS") and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, signing_input, padding.PKCS1v15(), _hash_for(alg))
            return True
        if alg.startswith("ES") and isinstance(public_key, ec.EllipticCurvePublicKey):
            half = len(signature) // 2
            der = utils.encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                             int.from_bytes(signature[half:], "big"))
            public_key.verify(der, signing_input, ec.ECDSA(_hash_for(alg)))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


def load_bundle(path: str) -> list:
    """The certificates of ``rootcertbundle``."""
    from cryptography import x509

    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


def verify(token: str, roots: list, *, issuer: str, service: str, now: float | None = None) -> dict:
    """The claims of a token signed by a key whose certificate is in ``roots`` (directly, or as
    the issuer of the ``x5c`` leaf); raises TokenInvalid."""
    from cryptography import x509

    try:
        head_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(b64decode(head_b64))
        claims = json.loads(b64decode(claims_b64))
        signature = b64decode(signature_b64)
    except (ValueError, TypeError):
        raise TokenInvalid("malformed token") from None
    alg = str(header.get("alg", ""))
    if alg not in ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512"):
        raise TokenInvalid(f"unsupported signing algorithm {alg!r}")
    signing_input = f"{head_b64}.{claims_b64}".encode()
    candidates = [cert.public_key() for cert in roots]
    chain = header.get("x5c") or []
    if chain:
        try:
            leaf = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
        except ValueError:
            raise TokenInvalid("malformed x5c certificate") from None
        trusted = any(leaf == root for root in roots) or any(_issued_by(leaf, root) for root in roots)
        if not trusted:
            raise TokenInvalid("the token's certificate is not trusted by rootcertbundle")
        candidates = [leaf.public_key()]
    if not any(_verify_with(key, alg, signing_input, signature) for key in candidates):
        raise TokenInvalid("invalid token signature")
    now = time.time() if now is None else now
    if claims.get("iss") != issuer:
        raise TokenInvalid(f"token issuer {claims.get('iss')!r} is not {issuer!r}")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if service not in audiences:
        raise TokenInvalid(f"token audience does not include {service!r}")
    leeway = 60
    if "exp" in claims and now > float(claims["exp"]) + leeway:
        raise TokenInvalid("token has expired")
    if "nbf" in claims and now + leeway < float(claims["nbf"]):
        raise TokenInvalid("token is not valid yet")
    return claims


def _issued_by(leaf, root) -> bool:
    try:
        leaf.verify_directly_issued_by(root)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not issued by this root"
        return False


def granted(claims: dict) -> list[Access]:
    out = []
    for entry in claims.get("access") or []:
        if isinstance(entry, dict):
            out.append(Access(str(entry.get("type", "")), str(entry.get("name", "")),
                              tuple(str(a) for a in entry.get("actions") or [])))
    return out
