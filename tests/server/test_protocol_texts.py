"""A message field of the wrong kind, without an "allowed" text of its own, is refused with
what its kind allows in the session's language (spec_rules.allowed_by_type), never with
pydantic's own English."""

from __future__ import annotations

import json

import pytest

from torchground.server.protocol import ProtocolError, parse_message


@pytest.mark.parametrize("message, en, ja", [
    ({"type": "open", "id": 5}, "text (a string)", "テキスト（文字列）"),
    ({"type": "grid", "axes": "lr"}, None, None),  # has its own text: unchanged
    ({"type": "open", "id": ["a"]}, "text (a string)", "テキスト（文字列）"),
])
def test_a_field_of_the_wrong_kind_is_refused_in_the_sessions_language(message, en, ja):
    with pytest.raises(ProtocolError) as err:
        parse_message(json.dumps(message))
    assert err.value.key == "server.field_invalid"
    assert "Input should" not in err.value.message("ja") and "Input should" not in err.value.message("en")
    if en is not None:
        assert en in err.value.message("en") and ja in err.value.message("ja")
