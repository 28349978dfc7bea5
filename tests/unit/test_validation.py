"""Request validation edge cases that a fuzzer or an attacker would try."""

from __future__ import annotations

import pytest

from cyborg_lite import exception
from cyborg_lite.api import validation
from cyborg_lite.api.schemas import firmware_images

VALID = {"name": "n", "vendor": "10de", "component": "vbios", "version": "96.00.99.00.01"}


def test_a_valid_registration_passes():
    assert validation.check(firmware_images.CREATE, VALID) == VALID


@pytest.mark.parametrize("field", ["vendor", "component", "version"])
@pytest.mark.parametrize("suffix", ["\n", "\r\n", " --force", "\n--force"])
def test_anchored_fields_refuse_trailing_newlines_and_extra_words(field, suffix):
    # Python's re.search lets "$" match before a final newline; the pattern must not.
    with pytest.raises(exception.Invalid) as err:
        validation.check(firmware_images.CREATE, {**VALID, field: VALID[field] + suffix})
    assert field in str(err.value)


def test_patterns_ending_in_an_escaped_dollar_keep_it_literal():
    schema = {"type": "string", "pattern": r"^cost\$"}
    assert validation.check(schema, "cost$") == "cost$"
    with pytest.raises(exception.Invalid):
        validation.check(schema, "cost")


def test_non_strings_are_left_to_the_type_keyword():
    with pytest.raises(exception.Invalid) as err:
        validation.check(firmware_images.CREATE, {**VALID, "version": 5})
    assert "is not of type 'string'" in str(err.value)


class BrokenStream:
    """A WSGI input whose client hung up mid-chunk (what gunicorn's NoMoreData signals)."""

    def read(self, size=-1):
        raise OSError("No more data after: None")


def test_a_body_that_cannot_be_read_is_the_clients_error():
    with pytest.raises(exception.Invalid) as err:
        validation.ClientBody(BrokenStream()).read(10)
    assert "could not be read" in str(err.value)
    assert "nothing was stored" in str(err.value)


def test_unknown_keys_are_named_with_the_ones_accepted():
    schema = {
        "type": "object",
        "properties": {"inner": {"type": "object", "properties": {"a": {}, "b": {}}}},
    }
    schema["properties"]["inner"]["additionalProperties"] = False
    with pytest.raises(exception.Invalid) as err:
        validation.check(schema, {"inner": {"a": 1, "z": 2}})
    assert str(err.value) == (
        "Invalid input (at 'inner'): Additional properties are not allowed ('z' was "
        "unexpected). Unknown inner field(s): z; use a, b."
    )


def test_a_description_says_what_a_type_pattern_or_alternative_wanted():
    schema = {"anyOf": [{"type": "integer"}, {"type": "string"}], "description": "A or B."}
    with pytest.raises(exception.Invalid, match=r"any of the given schemas\. A or B\.$"):
        validation.check({"type": "array", "items": schema}, [None])
    bounded = {"type": "integer", "minimum": 1, "description": "Never shown for a bound."}
    with pytest.raises(exception.Invalid) as err:
        validation.check(bounded, 0)
    assert str(err.value) == "Invalid input: 0 is less than the minimum of 1"
