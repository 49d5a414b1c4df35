"""Customer search the way a Chinese-speaking agent types (issue 14): 1-2 character names,
pinyin in full and as initials, traditional and simplified characters, ranking, and the index
kept right through inserts, renames, tier changes and deletes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from common.clock import ManualClock
from config.crm import CrmSettings
from crm_core import schema
from crm_core.search_text import fold, parse_query, pinyin_keys, syllables
from crm_core.service import Crm

PEOPLE = ("张伟", "張偉明", "王芳", "王小明", "汪洋", "李娜", "曾国藩", "单田芳", "解缙",
          "欧阳修", "Wang Lee", "Anna 安娜", "小王")
COMPANIES = ("华为技术有限公司", "王氏贸易有限公司")


async def _load(crm: Crm) -> dict[str, int]:
    ids = {}
    for name in COMPANIES:
        ids[name] = (await crm.customers.create(kind="company", name=name)).id
    for name in PEOPLE:
        ids[name] = (await crm.customers.create(kind="person", name=name)).id
    return ids


async def _ranked(crm: Crm, q: str, **kw: object) -> list[str]:
    page = await crm.customers.search(q, **kw)  # type: ignore[arg-type]
    assert page.total == len(page.items) or page.total > page.limit
    return [c.name for c in page.items]


async def _found(crm: Crm, q: str) -> set[str]:
    return set(await _ranked(crm, q))


async def test_one_character_surname(crm: Crm) -> None:
    await _load(crm)
    # Names starting with the surname first, then names holding it elsewhere.
    assert await _ranked(crm, "王") == ["王氏贸易有限公司", "王芳", "王小明", "小王"]
    assert await _found(crm, "张") == {"张伟", "張偉明"}  # traditional 張 folds to 张
    assert await _found(crm, "曾") == {"曾国藩"}


async def test_two_character_name(crm: Crm) -> None:
    await _load(crm)
    assert await _ranked(crm, "张伟") == ["张伟", "張偉明"]  # exact name, then prefix
    assert await _found(crm, "小明") == {"王小明"}
    assert await _found(crm, "安娜") == {"Anna 安娜"}
    assert await _found(crm, "李娜") == {"李娜"}
    assert await _found(crm, "娜") == {"李娜", "Anna 安娜"}


async def test_three_or_more_characters(crm: Crm) -> None:
    await _load(crm)
    assert await _ranked(crm, "王小明") == ["王小明"]
    assert await _found(crm, "技术有限") == {"华为技术有限公司"}
    assert await _found(crm, "有限公司") == {"华为技术有限公司", "王氏贸易有限公司"}
    assert await _found(crm, "欧阳修") == {"欧阳修"}


@pytest.mark.parametrize("q", ["zhangwei", "zhang wei", "ZhangWei", "Zhāng Wěi", "zhang1 wei3",
                               "zhang'wei"])
async def test_full_pinyin_with_or_without_spaces_and_tones(crm: Crm, q: str) -> None:
    await _load(crm)
    assert await _ranked(crm, q) == ["张伟", "張偉明"]


async def test_pinyin_initials_and_partial_pinyin(crm: Crm) -> None:
    await _load(crm)
    assert await _ranked(crm, "zw") == ["张伟", "張偉明"]
    assert await _found(crm, "zwm") == {"張偉明"}
    assert await _found(crm, "wxm") == {"王小明"}
    assert await _found(crm, "xiaoming") == {"王小明"}  # from the given name's syllable
    assert await _found(crm, "wangxiao") == {"王小明"}
    assert await _found(crm, "oyx") == {"欧阳修"}
    assert await _found(crm, "ouyang") == {"欧阳修"}
    assert await _found(crm, "hwjs") == {"华为技术有限公司"}


async def test_polyphonic_surnames_read_as_surnames(crm: Crm) -> None:
    await _load(crm)
    assert await _found(crm, "zengguofan") == {"曾国藩"}
    assert await _found(crm, "zgf") == {"曾国藩"}
    assert await _found(crm, "cengguofan") == set()
    assert await _found(crm, "shantianfang") == {"单田芳"}
    assert await _found(crm, "stf") == {"单田芳"}
    assert await _found(crm, "dantianfang") == set()
    assert await _found(crm, "xiejin") == {"解缙"}
    assert await _found(crm, "jiejin") == set()
    # Not at the start of a name, 曾 keeps its everyday reading.
    assert syllables(fold("李曾"), person=True) == ("li", "ceng")
    # A company's name is read as words, not as a surname.
    assert syllables(fold("单位"), person=False) == ("dan", "wei")


async def test_traditional_and_simplified_both_ways(crm: Crm) -> None:
    await _load(crm)
    assert await _ranked(crm, "張偉") == ["张伟", "張偉明"]
    assert await _ranked(crm, "张伟") == ["张伟", "張偉明"]
    assert await _found(crm, "张伟明") == {"張偉明"}
    assert await _found(crm, "偉") == {"张伟", "張偉明"}
    assert await _found(crm, "華為") == {"华为技术有限公司"}


async def test_mixed_latin_and_cjk(crm: Crm) -> None:
    await _load(crm)
    assert await _found(crm, "Anna 安") == {"Anna 安娜"}
    assert await _found(crm, "anna") == {"Anna 安娜"}
    assert await _found(crm, "ＡＮＮＡ") == {"Anna 安娜"}  # full-width letters fold too
    assert "Anna 安娜" in await _found(crm, "an")  # prefix of the Latin name, and pinyin an


async def test_ranking_exact_prefix_substring_pinyin_then_tier(crm: Crm) -> None:
    ids = await _load(crm)
    # wang: the Latin name starting with it, then the pinyin readings (王 and 汪) by tier, id.
    assert await _ranked(crm, "wang") == [
        "Wang Lee", "王氏贸易有限公司", "王芳", "王小明", "汪洋", "小王"]
    await crm.customers.update(ids["汪洋"], tier="platinum")
    await crm.customers.update(ids["王小明"], tier="gold")
    assert await _ranked(crm, "wang") == [
        "Wang Lee", "汪洋", "王小明", "王氏贸易有限公司", "王芳", "小王"]
    # Within the prefix class the gold customer goes first; the substring match stays last.
    assert await _ranked(crm, "王") == ["王小明", "王氏贸易有限公司", "王芳", "小王"]
    exact = await crm.customers.create(kind="person", name="王")
    assert (await _ranked(crm, "王"))[0] == "王"
    assert (await crm.customers.search("王")).items[0].id == exact.id
    # Paging walks the same order.
    first = await crm.customers.search("wang", limit=2)
    rest = await crm.customers.search("wang", limit=10, offset=2)
    assert first.total == rest.total == 7  # with the new 王
    assert [c.name for c in first.items + rest.items] == await _ranked(crm, "wang")
    # An explicit order wins over the ranking; filters narrow it.
    assert await _ranked(crm, "王", order_by="name", descending=True) == sorted(
        ["王氏贸易有限公司", "王小明", "王芳", "王", "小王"], reverse=True)
    assert await _ranked(crm, "wang", kind="company") == ["王氏贸易有限公司"]
    assert await _ranked(crm, "王", kind="person", limit=2) == ["王", "王小明"]


async def test_employer_and_email_still_match_from_three_characters(crm: Crm) -> None:
    ids = await _load(crm)
    await crm.customers.update(ids["李娜"], company_id=ids["华为技术有限公司"])
    await crm.emails.create(customer_id=ids["王芳"], address="fang.w@example.cn")
    assert await _ranked(crm, "华为技术") == ["华为技术有限公司", "李娜"]
    assert await _found(crm, "fang.w") == {"王芳"}
    assert await _found(crm, "华为") == {"华为技术有限公司"}  # 2 characters: names only


async def test_index_follows_insert_rename_tier_and_delete(crm: Crm) -> None:
    a = await crm.customers.create(kind="person", name="张伟")
    assert await _found(crm, "zw") == {"张伟"}
    assert await _found(crm, "偉") == {"张伟"}
    await crm.customers.update(a.id, name="李娜")
    for gone in ("zw", "张", "zhangwei", "张伟"):
        assert await _found(crm, gone) == set(), gone
    for q in ("ln", "李", "lina", "娜", "李娜"):
        assert await _found(crm, q) == {"李娜"}, q
    b = await crm.customers.create(kind="person", name="李四")
    assert await _ranked(crm, "李") == ["李娜", "李四"]
    await crm.customers.update(b.id, tier="platinum")
    assert await _ranked(crm, "李") == ["李四", "李娜"]
    await crm.customers.delete(a.id)
    assert await _ranked(crm, "李") == ["李四"]
    assert await _found(crm, "lina") == set()
    assert (await crm.customers.search("李")).total == 1


async def test_sql_and_fts_metacharacters_in_cjk_queries_are_data(crm: Crm) -> None:
    await _load(crm)
    odd = await crm.customers.create(kind="person", name="王%_'\"李")
    for q in ("%", "_", "%_", "'\"", '王%', '"李', "王%_'\"李", "*", "王 OR 李", "NEAR(王"):
        page = await crm.customers.search(q)
        assert {c.id for c in page.items} <= {odd.id}, q
    assert (await crm.customers.search("%_")).items[0].id == odd.id
    assert (await crm.customers.search()).total == len(PEOPLE) + len(COMPANIES) + 1


def test_query_parsing() -> None:
    assert parse_query("Zhāng Wěi").pinyin == "zhangwei"
    assert parse_query("lǚ bù").pinyin == "lvbu"
    assert parse_query("zhang1 wei3").pinyin == "zhangwei"
    assert parse_query("bob 617").pinyin == ""  # digits after a space are not tones
    assert parse_query("張偉").text == "张伟"
    assert parse_query("  Ａｎｎ   Smith ").text == "ann smith"
    assert parse_query("a1").pinyin == ""  # a short query is pinyin only as plain letters
    assert pinyin_keys(fold("张伟"), person=True) == ("zhangwei", "zw", "wei", "w")


async def test_tone_digits_are_not_phone_digits(crm: Crm) -> None:
    ids = await _load(crm)
    await crm.phones.create(customer_id=ids["王芳"], e164="+1 617 555 0123")
    assert await _found(crm, "zhang1 wei3") == {"张伟", "張偉明"}
    assert await _found(crm, "555 0123") == {"王芳"}
    assert await _found(crm, "617-555-0123") == {"王芳"}


async def test_existing_database_is_backfilled_on_open(tmp_path: Path) -> None:
    """A file made before the search index (schema 4) gets it when the CRM next opens it, and
    customers written by another tool are indexed at the next open as well."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(str(path), isolation_level=None)
    schema.configure(conn)
    schema.migrate(conn, 0.0, upto=4)
    conn.executemany("INSERT INTO customers (kind, name, tier) VALUES ('person', ?, ?)",
                     [("张伟", "bronze"), ("張偉明", "gold"), ("Ann Smith", "bronze")])
    conn.close()
    crm = await Crm.open(path, CrmSettings(), clock=ManualClock(0.0))
    try:
        assert await crm.schema_version() == schema.LATEST
        assert await _ranked(crm, "zw") == ["張偉明", "张伟"]  # same class: gold first
        assert await _found(crm, "ann") == {"Ann Smith"}
    finally:
        await crm.close()
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("INSERT INTO customers (kind, name) VALUES ('person', '李娜')")
    conn.execute("UPDATE customers SET name = '王芳' WHERE name = 'Ann Smith'")
    conn.close()
    crm = await Crm.open(path, CrmSettings(), clock=ManualClock(0.0))
    try:
        assert await _found(crm, "李") == {"李娜"}
        assert await _found(crm, "wf") == {"王芳"}
        assert await _found(crm, "ann") == set()
    finally:
        await crm.close()
