import pytest

from digest.errors import InputError
from digest.subscriber_io import join_list, parse_file, split_list, write_csv, write_jsonl
from digest.subscriber_spec import validate_spec


def test_normalizes_and_defaults() -> None:
    spec = validate_spec(
        {"email": "  Jane.Doe@Example.ORG ", "topics": ["  continual   learning "]}
    )
    assert spec.email == "Jane.Doe@example.org"  # domain lower-cased, local part kept
    assert spec.topics == ("continual learning",)
    assert (spec.status, spec.frequency, spec.delivery_hour, spec.timezone) == (
        "active",
        "daily",
        7,
        "UTC",
    )


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"email": "not-an-address"}, "invalid email"),
        ({"email": "a@b.org\r\nBcc: evil@x.org"}, "line break"),
        ({"email": "a@b.org", "name": "Eve\r\nBcc: evil@x.org"}, "line breaks"),
        ({"email": "a@b.org", "topics": ["ok", "bad\ntopic"]}, "line breaks"),
        ({"email": "a@b.org", "timezone": "Mars/Base"}, "unknown timezone"),
        ({"email": "a@b.org", "timezone": "europe/berlin"}, "did you mean Europe/Berlin"),
        ({"email": "a@b.org", "hour": 24}, "between 0 and 23"),
        ({"email": "a@b.org", "hour": "seven"}, "whole number"),
        ({"email": "a@b.org", "frequency": "hourly"}, "frequency"),
        ({"email": "a@b.org", "status": "vip"}, "status"),
        ({"email": "a@b.org", "categories": ["Not A Category"]}, "arXiv category"),
        ({"email": "a@b.org", "liked": ["<script>"]}, "paper id"),
        ({"email": "a@b.org", "colour": "blue"}, "unknown field"),
        ({"email": "a@b.org", "topics": ["x" * 1001]}, "longer than"),
    ],
)
def test_bad_input_is_named(data: dict, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        validate_spec(data)


def test_greeting_name_is_one_short_line_or_none() -> None:
    spec = validate_spec({"email": "a@b.org", "greeting_name": "  Dr.   Ada  "})
    assert spec.greeting_name == "Dr. Ada"
    for empty in (None, "", "   "):
        assert validate_spec({"email": "a@b.org", "greeting_name": empty}).greeting_name is None
    assert validate_spec({"email": "a@b.org"}).greeting_name is None
    assert validate_spec({"email": "a@b.org", "greeting_name": "x" * 60}).greeting_name


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("Ada\r\nBcc: evil@x.org", "greeting name must be one line without control characters"),
        ("Ada\tL", "greeting name must be one line"),
        ("Ada\u2028L", "greeting name must be one line"),
        ("x" * 61, "greeting name must be at most 60 characters, got 61"),
        (["Ada"], "greeting name must be text"),
    ],
)
def test_bad_greeting_name_is_one_clear_error(value: object, needle: str) -> None:
    with pytest.raises(InputError, match=needle) as caught:
        validate_spec({"email": "a@b.org", "greeting_name": value})
    assert "\n" not in str(caught.value)  # one line: the raw value is shown as repr


def test_list_escaping_round_trips() -> None:
    values = ["a;b", "back\\slash", "plain", "end;"]
    assert split_list(join_list(values)) == values


def test_csv_and_jsonl_round_trip() -> None:
    import io

    specs = [
        validate_spec(
            {
                "email": "a@example.org",
                "name": 'Zoë, "Q"',
                "greeting_name": "Zoë Q",
                "topics": ["x;y", "graph nets"],
                "authors": ["Doe, Jane"],
                "categories": ["cs.LG"],
                "hour": 5,
                "timezone": "Europe/Berlin",
                "frequency": "weekly",
                "liked": ["2501.01234"],
            }
        ),
        validate_spec({"email": "b@example.org"}),
    ]
    for writer, fmt in ((write_csv, "csv"), (write_jsonl, "jsonl")):
        buffer = io.StringIO()
        writer(specs, buffer)
        good, errors = parse_file(buffer.getvalue(), fmt)
        assert errors == []
        assert [spec for _, spec in good] == specs


def test_bad_rows_are_reported_with_line_numbers() -> None:
    text = (
        "email,name,topics,delivery_hour\n"
        "good@example.org,Good,llm,7\n"
        "broken,Bad,,7\n"
        '"multi\nline@example.org",x,,7\n'
        "GOOD@example.org,Dup,,7\n"
        "late@example.org,Late,,24\n"
    )
    good, errors = parse_file(text, "csv")
    assert [line for line, _ in good] == [2]
    assert [(e.line, e.message.split(" ")[0]) for e in errors] == [
        (3, "invalid"),
        (4, "invalid"),
        (6, "GOOD@example.org"),
        (7, "delivery"),
    ]


def test_jsonl_errors() -> None:
    text = '{"email": "a@example.org"}\n{not json}\n[1]\n\n{"email": "b@example.org", "hour": 99}\n'
    good, errors = parse_file(text, "jsonl")
    assert len(good) == 1
    assert [e.line for e in errors] == [2, 3, 5]


def test_csv_without_email_column() -> None:
    with pytest.raises(InputError, match="email"):
        parse_file("name,topics\nx,y\n", "csv")
