"""Key material: generation per algorithm, RFC 7638 kids, sealing, public JWKs."""

from __future__ import annotations

import re

import jwt
import pytest

from deployserver.licensing import keys


@pytest.mark.parametrize("alg", keys.ALGORITHMS)
def test_generated_key_signs_and_its_jwk_verifies(alg: str) -> None:
    new = keys.generate(alg)
    assert new.alg == alg
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", new.kid)
    token = jwt.encode({"sub": "x"}, new.private_key, algorithm=alg)
    jwk = keys.jwk_for(keys.load_public_key(new.public_pem, alg), new.kid, alg)
    assert {"kid": new.kid, "alg": alg, "use": "sig"}.items() <= jwk.items()
    assert not {"d", "p", "q", "dp", "dq", "qi", "key_ops"} & set(jwk)
    verified = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[alg])
    assert verified == {"sub": "x"}


def test_rsa_keys_are_3072_bits() -> None:
    new = keys.generate("RS256")
    assert new.private_key.key_size == 3072  # type: ignore[union-attr]


def test_kid_is_the_rfc7638_thumbprint() -> None:
    # RFC 7638 section 3.1 example key and its thumbprint.
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhD"
            "R1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf"
            "0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n9"
            "1CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF"
            "44-csFCur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    public = jwt.PyJWK(jwk).key
    assert keys.thumbprint(public) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_distinct_keys_have_distinct_kids() -> None:
    assert len({keys.generate().kid for _ in range(5)}) == 5


def test_seal_round_trip_and_wrong_secret() -> None:
    new = keys.generate()
    sealed = keys.seal(new.private_key, new.kid, "secret-one")
    assert b"PRIVATE" not in sealed
    opened = keys.unseal(sealed, new.kid, "secret-one")
    assert keys.thumbprint(opened.public_key()) == new.kid
    with pytest.raises(keys.KeyMaterialError, match="does not open"):
        keys.unseal(sealed, new.kid, "secret-two")


def test_sealed_key_is_bound_to_its_kid() -> None:
    new = keys.generate()
    sealed = keys.seal(new.private_key, new.kid, "s")
    with pytest.raises(keys.KeyMaterialError):
        keys.unseal(sealed, "another-kid", "s")


@pytest.mark.parametrize("damage", [b"", b"\x02" + b"0" * 40, b"\x01short"])
def test_damaged_seal_is_refused(damage: bytes) -> None:
    with pytest.raises(keys.KeyMaterialError):
        keys.unseal(damage, "kid", "s")


def test_flipped_ciphertext_bit_is_refused() -> None:
    new = keys.generate()
    sealed = bytearray(keys.seal(new.private_key, new.kid, "s"))
    sealed[-1] ^= 1
    with pytest.raises(keys.KeyMaterialError):
        keys.unseal(bytes(sealed), new.kid, "s")


def test_public_key_of_the_wrong_kind_is_refused() -> None:
    ed = keys.generate("EdDSA")
    with pytest.raises(keys.KeyMaterialError):
        keys.load_public_key(ed.public_pem, "RS256")


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError):
        keys.generate("HS256")
