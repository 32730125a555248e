"""The staff CSV in update mode, parsed (no database): actions, readings, columns left out."""

from __future__ import annotations

from jiseki.gateway.auth.passwords import hash_temporary, verify_password
from jiseki.gateway.auth.users_csv import normalise_reading, parse_staff_csv


def test_readings_become_hiragana_with_single_spaces() -> None:
    assert normalise_reading(" ヤマダ　タロウ ") == "やまだ たろう"
    assert normalise_reading("ｼﾝｼﾞﾝ ｲﾁﾛｳ") == "しんじん いちろう"  # half-width katakana, voiced marks joined
    assert normalise_reading("さとう  はなこ") == "さとう はなこ"
    assert normalise_reading("ヴァイオリン") == "ゔぁいおりん"


def test_actions_in_japanese_and_english_and_columns_left_out() -> None:
    text = (
        "ログインID,処理,権限,ふりがな\n"
        "a1,新規,,\n"  # create without a name: an error
        "a2,変更,管理者,\n"
        "a3,停止,,\n"
        "a4,有効,,\n"
        "a5,delete,,\n"
        "a6,,administrator,カトウ\n"
        "a7,消す,,\n"
    )
    rows, errors = parse_staff_csv(text)
    assert [(r.login_id, r.action, r.role) for r in rows] == [
        ("a2", "update", "admin"),
        ("a3", "disable", None),
        ("a4", "enable", None),
        ("a5", "delete", None),
        ("a6", "", "admin"),
    ]
    assert rows[0].department is None and rows[0].display_name == ""  # left as they are
    assert rows[0].reading == ""  # a present but empty reading clears it
    assert rows[4].reading == "かとう"
    assert sorted(e.line for e in errors) == [2, 8]


def test_temporary_password_hashes_are_light_and_verify() -> None:
    password_hash = hash_temporary("Ab3#defghijkmnop")
    assert password_hash.startswith("$argon2id$") and "m=8192,t=1,p=1" in password_hash
    assert verify_password(password_hash, "Ab3#defghijkmnop") and not verify_password(password_hash, "x")


def test_the_mail_address_column_sets_clears_or_is_refused() -> None:
    rows, errors = parse_staff_csv(
        "ログインID,メールアドレス\n"
        "a1, yamada@pref.example.lg.jp \n"
        "a2,\n"  # present but empty: cleared
        "a3,not an address\n"
        "a4,a@b@c.jp\n"
    )
    assert [(r.login_id, r.email) for r in rows] == [("a1", "yamada@pref.example.lg.jp"), ("a2", "")]
    assert [(e.line, e.values["value"]) for e in errors] == [(4, "not an address"), (5, "a@b@c.jp")]
    assert errors[0].message == "The mail address “not an address” is not valid."
    without, _errors = parse_staff_csv("login_id,display_name\na1,山田 太郎\n")
    assert without[0].email is None  # no column: left as it is
    english, _errors = parse_staff_csv("login_id,email\na1,sato@pref.example.lg.jp\n")
    assert english[0].email == "sato@pref.example.lg.jp"
