"""Detached signatures over firmware images: RSA (PKCS#1 v1.5 or PSS) or ECDSA, SHA-256.

The signature covers the image's bytes hashed with SHA-256, exactly what
``openssl dgst -sha256 -sign key.pem`` produces, so the check works from the digest computed
while streaming (no second read of a multi-gigabyte image).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from cyborg_lite import exception

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def load_keys(paths: Sequence[str]) -> list[PublicKey]:
    """Load PEM public keys; a missing, unreadable or unsupported key file is a config error."""
    keys: list[PublicKey] = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                key = serialization.load_pem_public_key(f.read())
        except (OSError, ValueError) as err:
            raise exception.Invalid(f"Trusted key {path} cannot be loaded: {err}") from err
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            raise exception.Invalid(f"Trusted key {path} is not an RSA or ECDSA public key.")
        keys.append(key)
    return keys


def decode(signature_b64: str) -> bytes:
    """The raw signature from its base64 text; 400 when it is not base64."""
    try:
        return base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError) as err:
        raise exception.Invalid("The signature is not valid base64.") from err


def _verifies(key: PublicKey, signature: bytes, digest: bytes) -> bool:
    prehashed = utils.Prehashed(hashes.SHA256())
    try:
        if isinstance(key, rsa.RSAPublicKey):
            try:
                key.verify(signature, digest, padding.PKCS1v15(), prehashed)
            except InvalidSignature:
                key.verify(
                    signature,
                    digest,
                    padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
                    prehashed,
                )
        else:
            key.verify(signature, digest, ec.ECDSA(prehashed))
    except InvalidSignature:
        return False
    return True


def check(
    keys: Sequence[PublicKey], signature_b64: str | None, sha256_hex: str, require: bool
) -> bool:
    """Verify the image's signature; returns whether it was verified.

    With trusted keys (or ``require``), a missing or bad signature is refused (400). Without
    keys and not required, an image is accepted unsigned (its sha256 still protects it).
    """
    if not keys and not require:
        return False
    if not signature_b64:
        raise exception.Invalid(
            "This image is not signed, and this service accepts only signed images "
            "([firmware] trusted_keys / require_signed)."
        )
    if not keys:
        raise exception.Invalid(
            "Signed images are required but no trusted key is configured "
            "([firmware] trusted_keys); the signature cannot be checked."
        )
    signature = decode(signature_b64)
    digest = bytes.fromhex(sha256_hex)
    if any(_verifies(k, signature, digest) for k in keys):
        return True
    raise exception.Invalid("The image's signature does not verify with any trusted key.")
