"""CSV lead import: mapping, E.164, invalid and duplicate rows, DNC counts, a 100k-row file."""

from __future__ import annotations

import pytest

from crm_core.errors import NotFound, ValidationError
from crm_core.lead_import import LeadColumns
from crm_core.service import Crm

COLS = LeadColumns(phone="Phone Number", name="Full Name", timezone="TZ")


async def new_list(crm: Crm, name: str = "Spring") -> tuple[int, int]:
    camp = await crm.campaigns.create(name=name, status="draft", queue="sales")
    lst = await crm.lead_lists.create(campaign_id=camp.id, name=f"{name} list")
    return camp.id, lst.id


async def test_import_maps_columns_normalises_and_reports(crm: Crm) -> None:
    camp_id, list_id = await new_list(crm)
    await crm.dnc.create(phone="+12125550107", reason="asked")
    csv_text = (
        "\ufeffFull Name,Phone Number,TZ,Extra\r\n"
        "Ann,(212) 555-0101,,x\r\n"
        "Bob,+1 212 555 0102,America/Chicago,y\r\n"
        "Cy,212-555-0101,,dup of Ann\r\n"
        "Di,12,,too short\r\n"
        "Ed,+44 20 7946 0958,Europe/London,\r\n"
        "Fi,2125550106,Mars/Base,\r\n"
        "\r\n"
        'Gus,"212.555.0107",,on DNC\r\n'
        "Hal,555-0199\r\n"
    )
    r = await crm.lead_import.import_csv(list_id, csv_text, COLS)
    assert (r.rows, r.imported, r.invalid, r.duplicates, r.on_dnc) == (8, 4, 3, 1, 1)
    assert [(i.row, i.reason.split(":")[0]) for i in r.issues] == [
        (4, "duplicate of row 2"), (5, "invalid number"), (7, "unknown time zone (use an IANA "
                                                               "name such as America/New_York)"),
        (10, "invalid number")]
    leads = (await crm.leads.search(list_id=list_id, order_by="id")).items
    assert [(ld.name, ld.phone, ld.timezone) for ld in leads] == [
        ("Ann", "+12125550101", ""), ("Bob", "+12125550102", "America/Chicago"),
        ("Ed", "+442079460958", "Europe/London"), ("Gus", "+12125550107", "")]
    # The DNC'd lead is stored but never due for dialling.
    due = await crm.leads.due(camp_id)
    assert "+12125550107" not in {ld.phone for ld in due} and len(due) == 3


async def test_numbers_already_in_the_campaign_are_duplicates(crm: Crm) -> None:
    camp_id, list_id = await new_list(crm)
    second = await crm.lead_lists.create(campaign_id=camp_id, name="second")
    await crm.lead_import.import_csv(list_id, "p\n2125550101\n", LeadColumns(phone="p"))
    r = await crm.lead_import.import_csv(second.id, "p\n2125550101\n2125550102\n",
                                         LeadColumns(phone="p"))
    assert (r.imported, r.duplicates) == (1, 1)
    assert r.issues[0].reason == "already in the campaign"
    # Another campaign may hold the same number.
    _, other = await new_list(crm, "Other")
    r = await crm.lead_import.import_csv(other, "p\n2125550101\n", LeadColumns(phone="p"))
    assert r.imported == 1


async def test_campaign_dnc_blocks_only_its_campaign(crm: Crm) -> None:
    camp_id, list_id = await new_list(crm)
    other_id, other_list = await new_list(crm, "Other")
    await crm.campaign_dnc.create(campaign_id=camp_id, phone="212 555 0101")
    for lst in (list_id, other_list):
        await crm.lead_import.import_csv(lst, "p\n2125550101\n", LeadColumns(phone="p"))
    assert await crm.leads.due(camp_id) == ()
    assert len(await crm.leads.due(other_id)) == 1
    assert [e.phone for e in await crm.campaign_dnc.active(camp_id)] == ["+12125550101"]


@pytest.mark.parametrize("text, field", [
    ("", "csv"),
    ("Name,Tel\nA,2125550101\n", "columns.phone"),
    ("p\n2125550101\x00\n", "csv"),
    ('p\n"2125550101\n', "csv"),  # unterminated quote at end of file
])
async def test_bad_files_name_the_problem_and_write_nothing(crm: Crm, text: str,
                                                             field: str) -> None:
    _, list_id = await new_list(crm)
    with pytest.raises(ValidationError) as e:
        await crm.lead_import.import_csv(list_id, text, LeadColumns(phone="p"))
    assert e.value.field == field
    assert (await crm.leads.search(list_id=list_id)).total == 0


async def test_missing_list_writes_nothing(crm: Crm) -> None:
    with pytest.raises(NotFound):
        await crm.lead_import.import_csv(999, "p\n2125550101\n", LeadColumns(phone="p"))


async def test_hostile_cells_are_data(crm: Crm) -> None:
    _, list_id = await new_list(crm)
    text = 'p,n\n2125550101,"Robert\'); DROP TABLE leads;--"\n"212555\r\n0102",x\n'
    r = await crm.lead_import.import_csv(list_id, text, LeadColumns(phone="p", name="n"))
    assert (r.imported, r.invalid) == (1, 1)
    assert "\r" not in r.issues[0].value and "\\r\\n" in r.issues[0].value
    (lead,) = (await crm.leads.search(list_id=list_id)).items
    assert lead.name == "Robert'); DROP TABLE leads;--"


@pytest.mark.parametrize("settings", [False], indirect=True, ids=["hop"])
async def test_hundred_thousand_rows(crm: Crm) -> None:
    _, list_id = await new_list(crm)
    lines = ["id,phone,name"]
    for i in range(100_000):
        lines.append(f"{i},+1 (212) {200 + i // 10_000:03d}-{i % 10_000:04d},Lead {i}")
    lines += ["x,+1 212 200 0000,again", "y,not a number,z"]  # one duplicate, one invalid
    r = await crm.lead_import.import_csv(list_id, "\n".join(lines) + "\n",
                                         LeadColumns(phone="phone", name="name"))
    assert (r.rows, r.imported, r.duplicates, r.invalid) == (100_002, 100_000, 1, 1)
    assert (await crm.leads.search(list_id=list_id, limit=1)).total == 100_000
