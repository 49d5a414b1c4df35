from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_core.errors import ValidationError
from crm_core.repo import like_pattern
from crm_core.service import Crm

NASTY = ["'; DROP TABLE customers;--", "%", "_", "\\", "100%_off", "a'b\"c", "%%", "\\%"]


async def _people(crm: Crm) -> dict[str, int]:
    acme = await crm.customers.create(kind="company", name="Acme_Works")
    ids = {"acme": acme.id}
    for key, name in [("ann", "Ann Smith"), ("bob", "Bob 100%_off"), ("eve", "Eve O'Hara"),
                      ("drop", "'; DROP TABLE customers;--"), ("bs", "Back\\slash")]:
        ids[key] = (await crm.customers.create(kind="person", name=name)).id
    await crm.customers.update(ids["ann"], company_id=acme.id)
    await crm.emails.create(customer_id=ids["eve"], address="eve@hara.example")
    await crm.phones.create(customer_id=ids["bob"], e164="+1 (617) 555-0142")
    return ids


async def _names(crm: Crm, q: str) -> set[str]:
    return {c.name for c in (await crm.customers.search(q)).items}


async def test_sql_and_like_metacharacters_are_data(crm: Crm) -> None:
    ids = await _people(crm)
    assert await _names(crm, "'; DROP TABLE customers;--") == {"'; DROP TABLE customers;--"}
    assert await _names(crm, "%") == {"Bob 100%_off"}
    # One or two characters search names only; from three on, employers and e-mails too.
    assert await _names(crm, "_") == {"Acme_Works", "Bob 100%_off"}
    assert await _names(crm, "me_w") == {"Acme_Works", "Ann Smith"}  # Ann via employer
    assert await _names(crm, "\\") == {"Back\\slash"}
    assert await _names(crm, "O'Hara") == {"Eve O'Hara"}
    assert await _names(crm, "%_") == {"Bob 100%_off"}
    # The table is still there and whole.
    assert (await crm.customers.search()).total == len(ids)
    for q in NASTY:
        for repo in (crm.tickets, crm.products, crm.users, crm.campaigns, crm.interactions):
            assert (await repo.search(q)).total == 0


async def test_search_by_email_phone_and_company(crm: Crm) -> None:
    await _people(crm)
    assert await _names(crm, "hara.example") == {"Eve O'Hara"}
    assert await _names(crm, "617-555-0142") == {"Bob 100%_off"}
    assert await _names(crm, "5550142") == {"Bob 100%_off"}
    assert await _names(crm, "acme") == {"Acme_Works", "Ann Smith"}
    assert await _names(crm, "ANN") == {"Ann Smith"}


async def test_pagination_and_total(crm: Crm) -> None:
    for i in range(25):
        await crm.customers.create(kind="person", name=f"Person {i:02d}")
    page = await crm.customers.search("Person", limit=10, offset=20)
    assert page.total == 25 and (page.limit, page.offset) == (10, 20)
    assert [c.name for c in page.items] == [f"Person {i:02d}" for i in range(20, 25)]
    newest = await crm.customers.search(order_by="id", descending=True, limit=1)
    assert newest.items[0].name == "Person 24"
    only = await crm.customers.search(kind="company")
    assert only.total == 0


@pytest.mark.parametrize("kwargs", [
    {"limit": 0}, {"limit": 100_000}, {"offset": -1}, {"order_by": "name; DROP TABLE x"},
    {"no_such_column": 1}, {"kind": 3},
])
async def test_bad_search_arguments_are_validation_errors(crm: Crm, kwargs: dict) -> None:
    with pytest.raises(ValidationError):
        await crm.customers.search(**kwargs)


async def test_nul_in_search_text_is_refused(crm: Crm) -> None:
    await crm.customers.create(kind="person", name="Ann")
    with pytest.raises(ValidationError):
        await crm.customers.search("a\x00")


async def test_lone_surrogates_are_validation_errors(crm: Crm) -> None:
    with pytest.raises(ValidationError):
        await crm.customers.search("a\ud800")
    with pytest.raises(ValidationError):
        await crm.customers.create(kind="person", name="b\udfff")
    assert (await crm.customers.search()).total == 0


@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               min_size=1, max_size=20))
@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_like_pattern_matches_itself_literally(term: str) -> None:
    import sqlite3

    conn = sqlite3.connect(":memory:")
    hit = conn.execute("SELECT ? LIKE ? ESCAPE '\\'", (f"x{term}y", like_pattern(term)))
    assert hit.fetchone()[0] == 1
    # A different string of the same length does not match just because of wildcards.
    other = "".join("a" if ch != "a" else "b" for ch in term)
    miss = conn.execute("SELECT ? LIKE ? ESCAPE '\\'", (other, like_pattern(term))).fetchone()
    assert miss[0] == (other.lower() == term.lower())
    conn.close()


async def test_lone_surrogates_anywhere_are_validation_errors(crm: Crm) -> None:
    with pytest.raises(ValidationError):
        await crm.log_call("c\ud800", direction="inbound")
    with pytest.raises(ValidationError):
        await crm.log_call("c1", direction="inbound", phone="\udc00", notes="x")
    from crm_core.errors import NotFound

    with pytest.raises(ValidationError):
        await crm.users.by_username("\ud800")
    with pytest.raises(NotFound):
        await crm.users.by_username("nobody")
    assert (await crm.interactions.search()).total == 0


async def test_search_index_follows_inserts_updates_and_deletes(crm: Crm) -> None:
    a = await crm.customers.create(kind="person", name="Quentin Blake")
    e = await crm.emails.create(customer_id=a.id, address="qb@illustrators.example")
    assert await _names(crm, "entin") == {"Quentin Blake"}
    assert await _names(crm, "ILLUSTRATORS") == {"Quentin Blake"}
    await crm.customers.update(a.id, name="Roald Dahl")
    assert await _names(crm, "entin") == set()
    assert await _names(crm, "oald") == {"Roald Dahl"}
    await crm.emails.update(e.id, address="rd@chocolate.example")
    assert await _names(crm, "illustrators") == set()
    assert await _names(crm, "chocolate") == {"Roald Dahl"}
    await crm.customers.delete(a.id)
    assert await _names(crm, "oald") == set()
    assert await _names(crm, "chocolate") == set()


async def test_fts_operators_in_search_text_are_literal(crm: Crm) -> None:
    await crm.customers.create(kind="person", name='Ann "AND" OR NOT* Smith')
    await crm.customers.create(kind="person", name="Bob")
    for q in ['"AND"', "OR NOT*", 'NOT* Smith', "NEAR(", "^ann", "a:b"]:
        names = await _names(crm, q)
        assert names <= {'Ann "AND" OR NOT* Smith'}, q
    assert await _names(crm, '"AND" OR') == {'Ann "AND" OR NOT* Smith'}
