"""Deterministic demo data: plausible customers, companies, phones, orders with a Pareto-like
revenue spread, tickets, opportunities, interactions, callbacks, teams, products, campaigns.

`build_demo_database(path, customers=..., seed=..., now=...)` writes a fresh file on a plain
sqlite3 connection: tables first, every row in one transaction, indexes after, then one full
value recompute (tiers). A million customers take well under two minutes on two cores.

`ensure_demo_database(path, ...)` builds only when the file holds no customers yet.

About half the customers and companies are Chinese (names, addresses and notes in Chinese; one
in six of them written in traditional characters, as in Hong Kong or Taiwan), drawn from a second
random stream so the rest of the data (orders, phones, tiers) is what it was without them.

Users are not created here (the API layer hashes passwords): `demo_agents(n)` says who the demo
agents are, for the server to create.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import opencc

from config.crm import CrmSettings
from crm_core import schema, scoring, search_index, search_text
from crm_core.errors import Conflict
from crm_core.models import DemoAgent

FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Carlos Karen Daniel Lisa Matthew Nancy Anthony "
    "Betty Mark Sandra Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle "
    "Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca "
    "Jason Sharon Edward Laura Jeffrey Cynthia Ryan Amy Jacob Angela Gary Helen Nicholas Anna "
    "Eric Brenda Jonathan Pamela Stephen Emma Larry Nicole Justin Olivia Scott Samantha Wei "
    "Priya Mohammed Fatima Hiroshi Yuki Sofia Mateo Aisha Omar Lucia Chen Ingrid Lars"
).split()
LAST = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White "
    "Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres "
    "Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts "
    "Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales "
    "Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos "
    "Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes "
    "Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Okafor Kowalski Novak"
).split()
COMPANY_WORDS = (
    "Acme Apex Summit Pioneer Harbor Granite Cedar Beacon Atlas Meridian Vertex Keystone "
    "Northwind Bluewater Silverline Redwood Ironbridge Lakeside Crescent Horizon Evergreen "
    "Oakridge Riverside Sterling Trident Union Vanguard Westfield Zenith Copperfield"
).split()
COMPANY_KINDS = (
    "Logistics Foods Dental Builders Motors Analytics Bakery Consulting Insurance Robotics "
    "Pharmacy Media Textiles Energy Hotels Legal Labs Outfitters Travel Systems"
).split()
COMPANY_SUFFIX = ("Inc.", "LLC", "Ltd", "Group", "Co.", "& Sons", "Partners", "Corp.")
CONTACT_ROLES = ("Purchasing", "Accounts payable", "CEO", "IT manager", "Office manager",
                 "Operations")
DEPARTMENTS = ("hardware", "software", "services", "support plans", "training")
TICKET_CATEGORIES = ("general", "billing", "technical", "delivery", "complaint")
DISPOSITIONS = ("resolved", "sale", "callback requested", "info given", "escalated", "no answer")
QUEUES = ("support", "sales")
# Chinese names: surnames roughly by frequency (the first ones repeated), a few read differently
# as surnames (曾 单 解 区 仇 查 朴) and a few compound ones.
ZH_SURNAMES = (
    "王王王王李李李李张张张张刘刘刘陈陈陈杨杨黄黄赵赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓"
    "曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱"
    "江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤单解区仇查朴"
)
ZH_COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "慕容", "尉迟")
ZH_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉萍红燕辉鹏飞建国文斌宇浩凯秀兰梅琳晨"
    "欣怡佳琪雪婷颖慧晓东海波宁志红亮健俊峰云龙嘉乐思源子涵博文雨轩梓诗家豪天佑美玲"
)
ZH_CITIES = ("北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆",
             "天津", "苏州", "厦门", "香港", "台北", "长沙")
ZH_DISTRICTS = {
    "北京": ("朝阳", "海淀"), "上海": ("浦东新", "徐汇"), "广州": ("天河", "越秀"),
    "深圳": ("南山", "福田"), "杭州": ("西湖", "上城"), "成都": ("武侯", "锦江"),
    "武汉": ("江汉", "武昌"), "南京": ("鼓楼", "玄武"), "西安": ("雁塔", "碑林"),
    "重庆": ("渝中", "江北"), "天津": ("和平", "河西"), "苏州": ("姑苏", "吴中"),
    "厦门": ("思明", "湖里"), "香港": ("中西", "油尖旺"), "台北": ("信义", "大安"),
    "长沙": ("岳麓", "芙蓉"),
}
ZH_ROADS = ("人民", "建设", "解放", "中山", "和平", "新华", "长江", "黄河", "东风", "胜利")
ZH_BRANDS = ("华信", "金龙", "长城", "东方", "宏达", "鑫源", "天成", "瑞丰", "永安", "恒通",
             "博远", "嘉禾", "盛世", "新星", "联创", "海纳", "中科", "百川", "锦程", "万通")
ZH_TRADES = ("科技", "贸易", "物流", "食品", "医药", "建材", "电子", "纺织", "传媒", "咨询",
             "能源", "汽车", "餐饮", "教育", "软件", "机械")
ZH_COMPANY_SUFFIX = ("有限公司", "股份有限公司", "集团", "商行", "工作室")
ZH_ROLES = ("采购", "财务", "总经理", "IT经理", "行政", "运营")
ZH_NOTES = ("偏好电话联系", "请在工作日上午来电", "老客户，注意服务态度", "对价格敏感",
            "需要开具增值税发票", "曾投诉物流延误", "粤语客户", "VIP，优先处理", "")
TEAMS = ("Support", "Sales", "Billing")
# Area codes by US time zone; the 555 exchange keeps every number fictional.
AREA_CODES = {
    "America/New_York": (201, 202, 203, 212, 215, 302, 305, 404, 407, 410, 412, 516, 617, 718),
    "America/Chicago": (205, 214, 217, 312, 314, 402, 414, 501, 504, 512, 612, 615, 713, 816),
    "America/Denver": (303, 307, 385, 406, 505, 719, 720, 801, 970),
    "America/Los_Angeles": (206, 213, 253, 310, 415, 503, 509, 510, 619, 702, 707, 714, 818),
}
_NUMBERS_PER_AREA = 10_000
_TZ_BY_FIRST_DIGIT = {2: "America/New_York", 3: "America/New_York", 4: "America/Chicago",
                      5: "America/Chicago", 6: "America/Denver", 7: "America/Denver",
                      8: "America/Los_Angeles", 9: "America/Los_Angeles"}


def _areas() -> list[tuple[int, str]]:
    """Real area codes (with their zone) first, then every other NANP-shaped code (zone by
    first digit): enough 555 numbers for the million-customer benchmark."""
    named = [(a, tz) for tz, codes in AREA_CODES.items() for a in codes]
    seen = {a for a, _ in named}
    extra = [(a, _TZ_BY_FIRST_DIGIT[a // 100]) for a in range(200, 1000)
             if a not in seen and (a // 10) % 10 != 9 and a % 100 != 11 and a % 111 != 0]
    return named + extra


_AREAS = _areas()
_DAY = 86400.0
_YEAR = 365 * _DAY


@dataclass(frozen=True, slots=True)
class DemoStats:
    customers: int
    phones: int
    orders: int
    tickets: int
    opportunities: int
    interactions: int
    callbacks: int
    seconds: float


def demo_agents(n: int = 8) -> tuple[DemoAgent, ...]:
    """The demo agents the server should create (usernames agent1..agentN, extensions 1001..)."""
    rng = random.Random(1234)
    out = []
    for i in range(n):
        team = TEAMS[i % len(TEAMS)]
        main = {"Support": "support", "Sales": "sales", "Billing": "billing"}[team]
        # Levels vary within a team (3, 4, 5, ...), so every queue has agents who meet the
        # default first escalation step (level 4) and some who only qualify later.
        skills = {main: 3 + (i // len(TEAMS) + 1) % 3}
        for other in ("support", "sales", "billing"):
            if other != main and rng.random() < 0.5:
                skills[other] = rng.randint(1, 3)
        first, last = FIRST[(i * 7) % len(FIRST)], LAST[(i * 11) % len(LAST)]
        out.append(DemoAgent(
            username=f"agent{i + 1}", display_name=f"{first} {last}",
            extension=str(1001 + i), team=team, skills=tuple(sorted(skills.items())),
        ))
    return tuple(out)


def phone_for_index(i: int) -> tuple[str, str]:
    """The i-th demo number (unique for i < len(area codes) x 10,000) and its time zone."""
    if not 0 <= i < len(_AREAS) * _NUMBERS_PER_AREA:
        raise ValueError(f"demo numbering has room for {max_demo_phones()} numbers")
    area, tz = _AREAS[i // _NUMBERS_PER_AREA]
    return f"+1{area}555{i % _NUMBERS_PER_AREA:04d}", tz


def max_demo_phones() -> int:
    return len(_AREAS) * _NUMBERS_PER_AREA


def build_demo_database(
    path: str | Path,
    *,
    customers: int = 3000,
    seed: int = 42,
    now: float | None = None,
    settings: CrmSettings | None = None,
    progress: TextIO | None = sys.stderr,
) -> DemoStats:
    """Create `path` (must hold no customers yet) with deterministic demo data."""
    started = time.perf_counter()
    now = time.time() if now is None else now
    settings = settings or CrmSettings()
    # Phones are ~1.3 per customer; every number must stay unique.
    if customers * 1.4 + 10 > max_demo_phones():
        raise ValueError(f"at most {int(max_demo_phones() / 1.4)} demo customers")
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        schema.configure(conn)
        have = schema.current_version(conn)
        if have >= 1 and conn.execute("SELECT 1 FROM customers LIMIT 1").fetchone():
            raise Conflict("the demo database already holds customers", {"path": str(path)})
        bulk = have == 0
        # Indexes only after the bulk load when the file is new; otherwise they already exist.
        schema.migrate(conn, now, upto=1 if bulk else schema.LATEST)
        conn.execute("PRAGMA synchronous = OFF")
        say = _reporter(progress, started)
        conn.execute("BEGIN")
        stats = _generate(conn, random.Random(seed), customers, now, say, _Chinese(seed))
        conn.execute("COMMIT")
        conn.execute("PRAGMA synchronous = NORMAL")
        if bulk:
            say("building indexes")
            schema.migrate(conn, now)
        say("scoring customer value")
        conn.execute("BEGIN IMMEDIATE")
        scoring.recompute_all(conn, settings, now)
        # Tiers exist only now; give the generated tickets the SLA of their customer's tier.
        conn.executemany(
            "UPDATE tickets SET due_at = created_at + ? WHERE customer_id IN"
            " (SELECT id FROM customers WHERE tier = ?)",
            [(hours * 3600.0, tier) for tier, hours in settings.sla_hours.items()])
        conn.execute("COMMIT")
        say("indexing names for search")
        conn.execute("BEGIN IMMEDIATE")
        search_index.sync_pending(conn)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        say("done")
    finally:
        conn.close()
    return DemoStats(seconds=time.perf_counter() - started, **stats)


def ensure_demo_database(
    path: str | Path,
    *,
    customers: int = 3000,
    seed: int = 42,
    now: float | None = None,
    settings: CrmSettings | None = None,
    progress: TextIO | None = sys.stderr,
) -> DemoStats | None:
    """Build the demo data unless `path` already holds customers (then return None): what
    `--demo` calls at start-up, before Crm.open, so a restart keeps the agents' changes."""
    p = Path(path)
    if p.exists() and p.stat().st_size > 0:
        conn = sqlite3.connect(str(p))
        try:
            has = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'customers'"
            ).fetchone() and conn.execute("SELECT 1 FROM customers LIMIT 1").fetchone()
        finally:
            conn.close()
        if has:
            return None
    return build_demo_database(p, customers=customers, seed=seed, now=now, settings=settings,
                               progress=progress)


class _Chinese:
    """Chinese names, addresses and notes from their own random stream."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed * 7919 + 14)
        self._s2t = opencc.OpenCC("s2t.json")
        self._trad: dict[str, str] = {}

    def _script(self, text: str, traditional: bool) -> str:
        if not traditional:
            return text
        out = self._trad.get(text)
        if out is None:
            out = self._trad[text] = self._s2t.convert(text)
        return out

    def person(self, traditional: bool = False) -> str:
        r = self.rng
        surname = (r.choice(ZH_COMPOUND_SURNAMES) if r.random() < 0.02
                   else r.choice(ZH_SURNAMES))
        given = "".join(r.choice(ZH_GIVEN) for _ in range(1 if r.random() < 0.3 else 2))
        return self._script(surname + given, traditional)

    def company(self, traditional: bool = False) -> str:
        r = self.rng
        city = r.choice(ZH_CITIES) if r.random() < 0.3 else ""
        return self._script(f"{city}{r.choice(ZH_BRANDS)}{r.choice(ZH_TRADES)}"
                            f"{r.choice(ZH_COMPANY_SUFFIX)}", traditional)

    def notes(self, traditional: bool) -> str:
        r = self.rng
        city = r.choice(ZH_CITIES)
        town = "" if city in ("香港", "台北") else "市"
        address = (f"地址：{city}{town}{r.choice(ZH_DISTRICTS[city])}区{r.choice(ZH_ROADS)}路"
                   f"{r.randint(1, 999)}号")
        remark = r.choice(ZH_NOTES)
        return self._script(f"{address}\n{remark}" if remark else address, traditional)

    @staticmethod
    def email_local(name: str, person: bool) -> str:
        return "".join(search_text.syllables(search_text.fold(name), person)) or "kehu"


def _reporter(out: TextIO | None, started: float) -> Callable[[str], None]:
    def say(msg: str) -> None:
        if out is not None:
            print(f"[demo {time.perf_counter() - started:6.1f}s] {msg}", file=out, flush=True)
    return say


def _generate(conn: sqlite3.Connection, rng: random.Random, n: int, now: float,
              say: Callable[[str], None], zh: _Chinese) -> dict[str, int]:
    ex = conn.executemany
    ex("INSERT INTO teams (id, name) VALUES (?, ?)", list(enumerate(TEAMS, 1)))
    products = []
    pid = 0
    for dept in DEPARTMENTS:
        for k in range(8):
            pid += 1
            price = int(rng.choice((19, 49, 99, 199, 499, 999, 2499)) * 100 * (1 + k % 3))
            products.append((pid, f"{dept[:3].upper()}-{100 + k}",
                             f"{dept.title()} item {k + 1}", dept, price))
    ex("INSERT INTO products (id, sku, name, department, price_cents) VALUES (?, ?, ?, ?, ?)",
       products)
    by_dept: dict[str, list[tuple[int, int]]] = {}
    for p in products:
        by_dept.setdefault(p[3], []).append((p[0], p[4]))

    n_companies = max(1, n // 10)
    counts = dict.fromkeys(
        ("customers", "phones", "orders", "tickets", "opportunities", "interactions",
         "callbacks"), 0)
    next_phone = 0
    order_id = 0
    chunk = 50_000
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        cust_rows, phone_rows, email_rows, contact_rows = [], [], [], []
        order_rows, line_rows, ticket_rows, opp_rows, inter_rows, cb_rows = [], [], [], [], [], []
        for cid in range(lo + 1, hi + 1):
            is_company = cid <= n_companies
            created = now - rng.uniform(0, 8 * _YEAR)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            if is_company:
                name = (f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)} "
                        f"{rng.choice(COMPANY_SUFFIX)}")
                company_id = None
            else:
                name = f"{first} {last}"
                company_id = rng.randint(1, n_companies) if rng.random() < 0.3 else None
            chinese = zh.rng.random() < 0.5
            notes = ""
            if chinese:
                trad = zh.rng.random() < 1 / 6
                name = zh.company(trad) if is_company else zh.person(trad)
                notes = zh.notes(trad)
            e164, tz = phone_for_index(next_phone)
            next_phone += 1
            phone_rows.append((cid, e164, "", "work" if is_company else "mobile"))
            if rng.random() < 0.3:
                e2, _ = phone_for_index(next_phone)
                next_phone += 1
                ext = str(rng.randint(100, 999)) if is_company else ""
                phone_rows.append((cid, e2, ext, "office" if is_company else "home"))
            if rng.random() < 0.7:
                local = (_Chinese.email_local(name, not is_company) if chinese
                         else (name.split()[0] if is_company else f"{first}.{last}").lower())
                email_rows.append((cid, f"{local}{cid}@example.com", "work"))
            if is_company:
                for _ in range(rng.randint(1, 3)):
                    contact, role = f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice(
                        CONTACT_ROLES)
                    if chinese:
                        contact, role = zh.person(), zh.rng.choice(ZH_ROLES)
                    contact_rows.append((cid, contact, role, created))
            # Pareto-like: most customers buy little or nothing, a few buy a lot.
            activity = rng.paretovariate(1.3) - 1.0
            n_orders = min(40, int(activity * 1.2))
            for _ in range(n_orders):
                order_id += 1
                dept = rng.choice(DEPARTMENTS)
                prod, price = rng.choice(by_dept[dept])
                qty = 1 + min(50, int(rng.paretovariate(2.0)) - 1)
                when = rng.uniform(max(created, now - 3 * _YEAR), now)
                status = "cancelled" if rng.random() < 0.03 else "paid"
                order_rows.append((order_id, cid, dept, status, when, qty * price))
                line_rows.append((order_id, prod, qty, price))
            stage = "customer" if n_orders else rng.choice(("prospect", "lead", "opportunity"))
            cust_rows.append((cid, "company" if is_company else "person", name, company_id,
                              stage, tz, notes, created, created))
            if rng.random() < 0.08:
                for _ in range(rng.randint(1, 2)):
                    opened = now - rng.uniform(0, 10 * _DAY)
                    status = rng.choice(("open", "open", "pending", "resolved"))
                    ticket_rows.append((cid, rng.choice(("Order not delivered", "Invoice query",
                                                          "Device fault", "Login problem",
                                                          "Refund request")),
                                        rng.choice(TICKET_CATEGORIES),
                                        rng.choice(("low", "normal", "normal", "high")),
                                        status, opened, opened, opened + 48 * 3600))
            if rng.random() < 0.06 or (n_orders > 3 and rng.random() < 0.3):
                stage_o = rng.choice(("qualification", "proposal", "negotiation", "won", "lost"))
                opp_rows.append((cid, f"{rng.choice(DEPARTMENTS).title()} deal", stage_o,
                                 int(rng.paretovariate(1.5) * 200_000),
                                 {"qualification": 0.1, "proposal": 0.3, "negotiation": 0.6,
                                  "won": 1.0, "lost": 0.0}[stage_o],
                                 now + rng.uniform(-30, 180) * _DAY, created, created))
            for _ in range(min(12, int(rng.expovariate(0.6)))):
                at = now - rng.uniform(0, 365) * _DAY
                wait = rng.uniform(2, 120)
                talk = rng.uniform(30, 900)
                inter_rows.append((cid, rng.choice(("inbound", "inbound", "outbound")),
                                   rng.choice(QUEUES), at, at + wait, at + wait + talk, wait,
                                   talk, rng.choice(DISPOSITIONS), e164, at))
            if rng.random() < 0.02:
                # Due from an hour on: the server places due callbacks itself
                # (acd/dialer/free_callbacks.py); none is due the moment a demo starts.
                cb_rows.append((cid, e164, now + rng.uniform(1, 72) * 3600,
                                "pending", "callback", "Customer asked to be called back", now))
        ex("INSERT INTO customers (id, kind, name, company_id, stage, timezone, notes,"
           " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", cust_rows)
        ex("INSERT INTO phones (customer_id, e164, extension, label) VALUES (?, ?, ?, ?)",
           phone_rows)
        ex("INSERT INTO emails (customer_id, address, label) VALUES (?, ?, ?)", email_rows)
        ex("INSERT INTO contacts (company_id, name, role, created_at) VALUES (?, ?, ?, ?)",
           contact_rows)
        ex("INSERT INTO orders (id, customer_id, department, status, ordered_at, total_cents)"
           " VALUES (?, ?, ?, ?, ?, ?)", order_rows)
        ex("INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents)"
           " VALUES (?, ?, ?, ?)", line_rows)
        ex("INSERT INTO tickets (customer_id, subject, category, priority, status, created_at,"
           " updated_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ticket_rows)
        ex("INSERT INTO opportunities (customer_id, name, stage, amount_cents, probability,"
           " expected_close, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", opp_rows)
        ex("INSERT INTO interactions (customer_id, kind, direction, queue, offered_at,"
           " answered_at, ended_at, wait_s, talk_s, disposition, phone, created_at)"
           " VALUES (?, 'call', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", inter_rows)
        ex("INSERT INTO callbacks (customer_id, phone, due_at, status, kind, notes, created_at)"
           " VALUES (?, ?, ?, ?, ?, ?, ?)", cb_rows)
        counts["customers"] += len(cust_rows)
        counts["phones"] += len(phone_rows)
        counts["orders"] += len(order_rows)
        counts["tickets"] += len(ticket_rows)
        counts["opportunities"] += len(opp_rows)
        counts["interactions"] += len(inter_rows)
        counts["callbacks"] += len(cb_rows)
        say(f"{hi:,}/{n:,} customers")
    _campaign(conn, rng, n, now)
    return counts


def _campaign(conn: sqlite3.Connection, rng: random.Random, n: int, now: float) -> None:
    # Paused: sample data a supervisor may start. Active, the dialer called these customers'
    # real-looking numbers whenever their local window was open (from 08:00 in New York, 13:00
    # UTC), taking the demo's agents from the calls the tests place; the demo's running
    # campaign is acd/dialer/demo.py's.
    conn.execute("INSERT INTO campaigns (id, name, status, dial_mode, queue, created_at)"
                 " VALUES (1, 'Spring renewal', 'paused', 'progressive', 'sales', ?)", (now,))
    conn.execute("INSERT INTO lead_lists (id, campaign_id, name, created_at)"
                 " VALUES (1, 1, 'Lapsed customers', ?)", (now,))
    picks = sorted(rng.sample(range(1, n + 1), min(n, 200)))
    rows = conn.execute(
        f"SELECT c.id, c.name, c.timezone, MIN(p.e164) FROM customers c"
        f" JOIN phones p ON p.customer_id = c.id WHERE c.id IN ({','.join('?' * len(picks))})"
        f" GROUP BY c.id ORDER BY c.id", picks).fetchall()
    conn.executemany("INSERT INTO leads (list_id, phone, customer_id, name, timezone)"
                     " VALUES (1, ?, ?, ?, ?)", [(ph, cid, nm, tz) for cid, nm, tz, ph in rows])
    if rows:
        conn.execute("INSERT INTO dnc (phone, reason, added_at) VALUES (?, 'customer request', ?)",
                     (rows[0][3], now))


def iter_demo_numbers(customers: int) -> Iterator[str]:
    """The main numbers of the first `customers` demo customers are among these (for benchmarks
    that want numbers that exist without reading them back)."""
    for i in range(customers):
        yield phone_for_index(i)[0]
