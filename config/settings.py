"""The root settings model: one section per concern, each in its own module."""

from __future__ import annotations

from config.acd import AcdSettings
from config.api import AuthSettings
from config.base import Section
from config.crm import CrmSettings
from config.cti import AmiSettings, DialingSettings, FastAgiSettings
from config.demo import DemoSettings
from config.desktop import DesktopSettings
from config.dialer import DialerSettings
from config.menus import IvrSettings
from config.pages import PagesSettings
from config.reports import ReportsSettings
from config.server import ServerSettings
from config.softphone import SoftphoneSettings
from config.wallboard import WallboardSettings


class Settings(Section):
    server: ServerSettings = ServerSettings()
    ami: AmiSettings = AmiSettings()
    fastagi: FastAgiSettings = FastAgiSettings()
    dialing: DialingSettings = DialingSettings()
    crm: CrmSettings = CrmSettings()
    auth: AuthSettings = AuthSettings()
    acd: AcdSettings = AcdSettings()
    demo: DemoSettings = DemoSettings()
    ivr: IvrSettings = IvrSettings()
    reports: ReportsSettings = ReportsSettings()
    dialer: DialerSettings = DialerSettings()
    pages: PagesSettings = PagesSettings()
    softphone: SoftphoneSettings = SoftphoneSettings()
    desktop: DesktopSettings = DesktopSettings()
    wallboard: WallboardSettings = WallboardSettings()
