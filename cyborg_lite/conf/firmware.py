"""Options of the [firmware] group: the image store, signatures and size limits."""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("firmware", title="Firmware catalog options")

OPTS = [
    cfg.StrOpt(
        "image_store",
        default="$state_path/images",
        help="Folder holding uploaded firmware images, content-addressed by sha256. "
        "Example: /var/lib/cyborg-lite/images.",
    ),
    cfg.ListOpt(
        "trusted_keys",
        default=[],
        help="PEM files of public keys (RSA or ECDSA) trusted to sign firmware images. When "
        "any is set, an upload must carry a detached signature (base64) that one of them "
        "verifies over the image's bytes with SHA-256, as made by "
        "`openssl dgst -sha256 -sign key.pem -out image.sig image.bin`. "
        "Example: /etc/cyborg-lite/keys/vendor.pem,/etc/cyborg-lite/keys/site.pem.",
    ),
    cfg.BoolOpt(
        "require_signed",
        default=False,
        help="Refuse every unsigned image, even with no trusted key configured (then every "
        "upload fails until keys are set: a safe default for a locked-down site).",
    ),
    cfg.IntOpt(
        "max_image_bytes",
        default=2 * 1024**3,
        min=1,
        help="Largest firmware image accepted, in bytes; a larger upload is refused with 413 "
        "and nothing is kept. Example: 536870912 (512 MiB).",
    ),
]


def register(conf: cfg.ConfigOpts) -> None:
    """Register the [firmware] options on ``conf``."""
    # A fresh OptGroup per ConfigOpts (oslo.config copies groups shallowly).
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
