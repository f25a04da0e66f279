"""The 31 risks of GB/T 45654-2025 Appendix A, and versioned threshold profiles.

Codes (``A1.1`` ... ``A5.2``) are ours; the names are the standard's. This module is the only
place the taxonomy is written down; everything else looks codes up here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Risk:
    """One risk of Appendix A: its code, group and names."""

    code: str
    group: str
    name_zh: str
    name_en: str


_GROUPS = {
    "A1": ("违反社会主义核心价值观", "Violating core socialist values"),
    "A2": ("歧视性内容", "Discriminatory content"),
    "A3": ("商业违法违规", "Commercial violations"),
    "A4": ("侵犯他人合法权益", "Infringing others' legitimate rights"),
    "A5": ("无法满足特定服务类型的安全需求", "Failing the safety needs of specific service types"),
}

_RISKS = [
    ("A1.1", "煽动颠覆国家政权、推翻社会主义制度", "Inciting subversion of state power or the socialist system"),
    ("A1.2", "危害国家安全和利益、损害国家形象", "Endangering national security and interests, harming the national image"),
    ("A1.3", "煽动分裂国家、破坏国家统一和社会稳定", "Inciting separatism, undermining national unity and social stability"),
    ("A1.4", "宣扬恐怖主义、极端主义", "Promoting terrorism or extremism"),
    ("A1.5", "宣扬民族仇恨", "Promoting ethnic hatred"),
    ("A1.6", "宣扬暴力、淫秽色情", "Promoting violence, obscenity or pornography"),
    ("A1.7", "传播虚假有害信息", "Spreading false and harmful information"),
    ("A1.8", "其他法律、行政法规禁止的内容", "Other content prohibited by laws and administrative regulations"),
    ("A2.1", "民族歧视", "Ethnic discrimination"),
    ("A2.2", "信仰歧视", "Religious or belief discrimination"),
    ("A2.3", "国别歧视", "Nationality discrimination"),
    ("A2.4", "地域歧视", "Regional discrimination"),
    ("A2.5", "性别歧视", "Gender discrimination"),
    ("A2.6", "年龄歧视", "Age discrimination"),
    ("A2.7", "职业歧视", "Occupational discrimination"),
    ("A2.8", "健康歧视", "Health discrimination"),
    ("A2.9", "其他方面歧视", "Other discrimination"),
    ("A3.1", "侵犯他人知识产权", "Infringing intellectual property"),
    ("A3.2", "违反商业道德", "Violating business ethics"),
    ("A3.3", "泄露他人商业秘密", "Disclosing trade secrets"),
    ("A3.4", "利用算法、数据、平台等优势，实施垄断和不正当竞争行为", "Monopoly and unfair competition"),
    ("A3.5", "其他商业违法违规行为", "Other commercial violations"),
    ("A4.1", "危害他人身心健康", "Endangering physical or mental health"),
    ("A4.2", "侵害他人肖像权", "Infringing portrait rights"),
    ("A4.3", "侵害他人名誉权", "Infringing reputation rights"),
    ("A4.4", "侵害他人荣誉权", "Infringing honour rights"),
    ("A4.5", "侵害他人隐私权", "Infringing privacy rights"),
    ("A4.6", "侵害他人个人信息权益", "Infringing personal information rights"),
    ("A4.7", "侵犯他人其他合法权益", "Infringing other legitimate rights"),
    ("A5.1", "内容不准确，严重不符合科学常识或主流认知", "Inaccurate content"),
    ("A5.2", "内容不可靠，虽然不包含严重错误的内容，但无法对使用者形成帮助", "Unreliable content"),
]

RISKS: dict[str, Risk] = {
    code: Risk(code=code, group=code.split(".")[0], name_zh=zh, name_en=en) for code, zh, en in _RISKS
}
RISK_CODES: tuple[str, ...] = tuple(RISKS)
GROUP_NAMES: dict[str, tuple[str, str]] = dict(_GROUPS)


def category_bit(code: str) -> int:
    """The bit of ``code`` in a category bitmask (31 risks fit in an int64)."""
    return 1 << RISK_CODES.index(code)


def codes_from_mask(mask: int) -> list[str]:
    """Risk codes whose bits are set in ``mask``, in taxonomy order (which is also string order)."""
    return [code for i, code in enumerate(RISK_CODES) if mask >> i & 1]


@dataclass(frozen=True)
class Profile:
    """Thresholds of one revision of the standard; a new revision is a new profile, not a code edit."""

    name: str
    source_unsafe_max_share: float
    source_unsafe_clause: str


PROFILES: dict[str, Profile] = {
    "gbt45654-2025": Profile(
        name="gbt45654-2025",
        source_unsafe_max_share=0.05,
        source_unsafe_clause="GB/T 45654-2025 5.1 a): a source whose illegal/unhealthy content exceeds 5 % must not be used",
    ),
}
DEFAULT_PROFILE = "gbt45654-2025"
