"""Signing-key material: generation, key ids, sealing private keys at rest, public JWKs.

Nothing here touches the database; :mod:`deployserver.services.keys` stores what this makes.
A private key leaves this module only sealed, or as an object handed to the signer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    PublicKeyTypes,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

# The public key kinds our algorithms use.
VerifyingKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
SigningPrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# The allow-list: the only algorithms a key may have and a license may name.
ALGORITHMS = ("EdDSA", "ES256", "RS256")
DEFAULT_ALGORITHM = "EdDSA"
RSA_BITS = 3072

# Sealed blob layout: version byte, 96-bit nonce, AES-256-GCM ciphertext and tag.
_SEAL_VERSION = b"\x01"
_NONCE_BYTES = 12
# Domain separation: this derived key seals signing keys and nothing else.
_HKDF_INFO = b"deployserver/signing-key-seal/v1"


class KeyMaterialError(Exception):
    """Sealed key material does not open with this server's secret (wrong secret or damage)."""


@dataclass(frozen=True)
class NewKey:
    """A freshly generated key: its id, algorithm, public PEM and the private key object."""

    kid: str
    alg: str
    public_pem: str
    private_key: SigningPrivateKey


def generate(alg: str = DEFAULT_ALGORITHM) -> NewKey:
    """Generate a key pair for ``alg`` (one of :data:`ALGORITHMS`)."""
    private_key: SigningPrivateKey
    if alg == "EdDSA":
        private_key = ed25519.Ed25519PrivateKey.generate()
    elif alg == "ES256":
        private_key = ec.generate_private_key(ec.SECP256R1())
    elif alg == "RS256":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    else:
        raise ValueError(f"unsupported algorithm {alg!r}")
    public_key = private_key.public_key()
    return NewKey(
        kid=thumbprint(public_key),
        alg=alg,
        public_pem=public_pem(public_key),
        private_key=private_key,
    )


def public_pem(public_key: PublicKeyTypes) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key(pem: str, alg: str) -> VerifyingKey:
    """Parse a stored public key and check that it is of the kind ``alg`` needs."""
    key = serialization.load_pem_public_key(pem.encode("ascii"))
    if alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyMaterialError("an ES256 key must be on P-256")
        return key
    if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
        return key
    raise KeyMaterialError(f"stored public key is not an {alg} key")


def public_jwk(public_key: PublicKeyTypes) -> dict[str, Any]:
    """The RFC 7517 members of a public key (``kty`` and the key parameters only)."""
    jwk: dict[str, Any]
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        jwk = dict(OKPAlgorithm.to_jwk(public_key, as_dict=True))
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        jwk = dict(ECAlgorithm.to_jwk(public_key, as_dict=True))
    elif isinstance(public_key, rsa.RSAPublicKey):
        jwk = dict(RSAAlgorithm.to_jwk(public_key, as_dict=True))
    else:
        raise KeyMaterialError(f"no JWK form for {type(public_key).__name__}")
    # RFC 7517 4.3: ``use`` (added by jwk_for) and ``key_ops`` should not appear together.
    jwk.pop("key_ops", None)
    return jwk


def jwk_for(public_key: PublicKeyTypes, kid: str, alg: str) -> dict[str, Any]:
    """The JWKS entry of a verifying key: its parameters plus ``kid``, ``alg``, ``use``."""
    return {**public_jwk(public_key), "kid": kid, "alg": alg, "use": "sig"}


# RFC 7638: the thumbprint hashes exactly these members, in this (lexicographic) order.
_THUMBPRINT_MEMBERS = {
    "OKP": ("crv", "kty", "x"),
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
}


def thumbprint(public_key: PublicKeyTypes) -> str:
    """The RFC 7638 SHA-256 JWK thumbprint, base64url without padding (43 characters).

    Derived from the key itself, so a kid can never name two different keys.
    """
    jwk = public_jwk(public_key)
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode("utf-8")
    digest = hashlib.sha256(canonical).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _sealing_key(secret: str) -> AESGCM:
    if not secret:
        raise KeyMaterialError("no server secret to seal signing keys with")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret.encode("utf-8")
    )
    return AESGCM(derived)


def seal(private_key: SigningPrivateKey, kid: str, secret: str) -> bytes:
    """Encrypt the private key's PKCS#8 PEM under a key derived from the server secret.

    The kid is authenticated data: a sealed key copied onto another row does not open.
    """
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    nonce = os.urandom(_NONCE_BYTES)
    return _SEAL_VERSION + nonce + _sealing_key(secret).encrypt(nonce, pem, kid.encode("utf-8"))


def unseal(sealed: bytes, kid: str, secret: str) -> SigningPrivateKey:
    """Open a sealed private key; :class:`KeyMaterialError` when the secret or data is wrong."""
    if len(sealed) <= 1 + _NONCE_BYTES or sealed[:1] != _SEAL_VERSION:
        raise KeyMaterialError(f"sealed key {kid} is damaged")
    nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
    try:
        pem = _sealing_key(secret).decrypt(nonce, ciphertext, kid.encode("utf-8"))
    except InvalidTag:
        raise KeyMaterialError(
            f"signing key {kid} does not open with this server's secret key"
        ) from None
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(
        key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    ):
        raise KeyMaterialError(f"signing key {kid} is of an unsupported kind")
    return key
