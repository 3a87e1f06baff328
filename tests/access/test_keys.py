"""Key format checks (access/keys.py): hostile input is refused before any lookup."""

import hashlib

import pytest

from access.keys import KEY_RE, generate_key, hash_key, hashes_match, parse_prefix


def test_generated_keys_are_well_formed_and_unique():
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    for raw, prefix in keys:
        assert parse_prefix(raw) == prefix
        assert raw.startswith(f"md_{prefix}_")
        assert len(raw) > 40


def test_hash_is_sha256_of_the_whole_key():
    raw, _ = generate_key()
    assert hash_key(raw) == hashlib.sha256(raw.encode()).hexdigest()
    assert hashes_match(raw, hash_key(raw))
    assert not hashes_match(raw + "x", hash_key(raw))


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "md_",
        "sk-proj-abcdef",
        "md_1234abcd_short",
        "md_1234ABCD_" + "a" * 43,  # prefix is lowercase hex
        "md_1234abcd_" + "a" * 43 + "\n",
        "md_1234abcd_" + "a" * 43 + "\x00",
        "md_1234abcd_" + "a" * 20 + "\x00" + "a" * 22,
        "md_1234abcd_' OR '1'='1' --",
        "md_1234abcd_" + "a" * 30 + "'; DROP TABLE access_apikey; --",
        "md_1234abcd_" + "a" * 10_000,
        "x" * 10_000,
        None,
        42,
    ],
)
def test_malformed_keys_have_no_prefix(raw):
    assert parse_prefix(raw) is None


def test_pattern_is_anchored_at_both_ends():
    raw, _ = generate_key()
    assert KEY_RE.fullmatch(raw)
    assert parse_prefix("x" + raw) is None
    assert parse_prefix(raw + " ") is None
