"""Report labels in Chinese and English: the people who sign the assessment read Chinese.

``label(key, lang)`` is the one lookup both report.md and report.html use; an unknown language is a
ConfigError naming the known ones.
"""

from __future__ import annotations

from scanner.errors import ConfigError

LANGUAGES = ("zh", "en")

_LABELS: dict[str, tuple[str, str]] = {
    "title": ("语料安全扫描报告", "Corpus scan report"),
    "summary": ("概况", "Summary"),
    "checks": ("合规检查", "Checks"),
    "check": ("检查项", "check"),
    "status": ("结论", "status"),
    "value": ("数值", "value"),
    "threshold": ("阈值", "threshold"),
    "offending": ("不符合项", "offending"),
    "requirement": ("标准要求", "requirement"),
    "evidence": ("证据说明", "evidence"),
    "pass": ("通过", "pass"),
    "fail": ("不通过", "fail"),
    "not-assessed": ("未评估", "not assessed"),
    "sources": ("语料来源", "Sources"),
    "source": ("来源", "source"),
    "documents": ("文档数", "documents"),
    "empty": ("空文档", "empty"),
    "flagged": ("命中文档", "flagged"),
    "flagged_share": ("命中比例", "flagged share"),
    "unsafe": ("不安全文档", "unsafe"),
    "unsafe_share": ("不安全比例", "unsafe share"),
    "hits": ("命中次数", "hits"),
    "chars": ("字符数", "chars"),
    "bytes": ("字节数", "bytes"),
    "rejected": ("拒收行", "rejected rows"),
    "verdict": ("判定（≤5%）", "verdict (<= 5 %)"),
    "languages": ("语言", "languages"),
    "other_languages": ("其他语言", "other languages"),
    "language": ("语言", "language"),
    "type": ("类型", "type"),
    "origin": ("境内/境外", "origin"),
    "registered": ("已登记", "registered"),
    "matrix": ("语言 × 来源（文档数）", "Language x source (documents)"),
    "flagged_chart": ("各来源不安全比例（虚线为 5% 阈值）", "Unsafe share per source (dashed line: 5 % limit)"),
    "categories": ("风险类别", "Risk categories"),
    "code": ("编号", "code"),
    "name": ("名称", "name"),
    "top_terms": ("高频关键词", "Top terms"),
    "normalizations": ("变形归一化命中（仅在该步骤后命中的次数）", "Normalisations (hits that matched only after the step)"),
    "step": ("步骤", "step"),
    "term": ("关键词", "term"),
    "noisy": ("噪声词", "noisy"),
    "noisy_note": ("噪声词：文档命中率远高于其他关键词（≥1% 且 ≥ 中位数 10 倍），请检查词库。", "Noisy: document hit rate far above the rest (>= 1 % and >= 10x the median); check the lexicon."),
    "origins": ("境内外来源占比（按字符）", "Domestic / foreign shares (by characters)"),
    "source_types": ("来源类型占比（按字符）", "Source-type shares (by characters)"),
    "share": ("占比", "share"),
    "filing_table": ("语料规模（备案表：存储量与词元数）", "Corpus scale (filing form: storage size and tokens)"),
    "filing_row": ("来源类别", "source category"),
    "tokens": ("词元数", "tokens"),
    "total": ("合计", "total"),
    "dt-zh": ("中文文本", "Chinese text"),
    "dt-en": ("英文文本", "English text"),
    "dt-other": ("其他语言文本", "other-language text"),
    "dt-code": ("代码", "code"),
    "dt-total": ("合计", "total"),
    "row-open-source-domestic": ("开源语料（境内）", "open-source (domestic)"),
    "row-open-source-foreign": ("开源语料（境外）", "open-source (foreign)"),
    "row-self-collected": ("自采语料", "self-collected"),
    "row-commercial": ("商业语料", "commercial"),
    "row-other": ("其他/未登记", "other / unregistered"),
    "tokens-mode-exact": (
        "词元数为精确计数：扫描时用分词器 {tokenizer} 对每篇文档分词计数。存储量为 UTF-8 文本字节数（1 GB = 10^9 字节）。",
        "Token counts are exact: every document was tokenized with {tokenizer} during the scan. Storage is UTF-8 text bytes (1 GB = 10^9 bytes).",
    ),
    "tokens-mode-estimate": (
        "词元数为抽样估计：在与顺序无关的随机样本（{samples} 篇）上按（来源, 数据类型）测得每字节词元数（分词器 {tokenizer}），乘以该格的精确字节数；方括号内为 95% 置信区间。文档全部已分词的格为精确值；已分词文档少于 2 篇的格采用其数据类型的比值，区间取任一已分词文档每字节词元数的最小值至最大值。存储量为精确的 UTF-8 文本字节数（1 GB = 10^9 字节）。",
        "Token counts are sampled estimates: tokens per byte measured with {tokenizer} on the order-free random sample ({samples} documents) per (source, data type), times the cell's exact bytes; brackets hold the 95 % interval. A cell whose documents were all tokenized is exact; a cell with fewer than 2 tokenized documents takes the ratio of its data type, and its interval spans the lowest to the highest tokens per byte of any tokenized document. Storage is exact UTF-8 text bytes (1 GB = 10^9 bytes).",
    ),
    "tokens-too_few_tokenized_documents": (
        "未能估计词元数：仅 {samples} 篇文档被分词，估计至少需要 2 篇（文档全部已分词的格仍为精确值）；请使用 --tokens exact，或增大 --token-sample/--sample-size。存储量为精确的 UTF-8 文本字节数（1 GB = 10^9 字节）。",
        "No token estimate: too few documents were tokenized for an estimate ({samples}; it needs 2; cells whose documents were all tokenized are still exact); use --tokens exact or a larger --token-sample/--sample-size. Storage is exact UTF-8 text bytes (1 GB = 10^9 bytes).",
    ),
    "tokens-mode-off": ("未统计词元数（--tokens off）。存储量为 UTF-8 文本字节数（1 GB = 10^9 字节）。", "Tokens were not counted (--tokens off). Storage is UTF-8 text bytes (1 GB = 10^9 bytes)."),
    "lexicon_audit": ("关键词库审核", "Lexicon audit"),
    "rule": ("规则", "rule"),
    "duplicates": ("重复词条", "duplicates"),
    "never_match": ("无法命中的词条", "terms that can never match"),
    "single_char_cjk": ("单字中文词条", "single-character CJK terms"),
    "human_sample": ("人工抽检样本", "Human spot-check sample"),
    "sample_size": ("样本量", "sample size"),
    "seed": ("抽样密钥", "seed"),
    "provenance": ("可追溯信息", "Provenance"),
    "tool": ("工具版本", "tool version"),
    "lexicon": ("关键词库", "lexicon"),
    "fingerprint": ("指纹", "fingerprint"),
    "langid_model": ("语种识别模型 SHA-256", "language-ID model SHA-256"),
    "inputs": ("输入分片", "input shards"),
    "command": ("命令行", "command line"),
    "started": ("开始时间", "started"),
    "finished": ("结束时间", "finished"),
    "errors": ("错误与拒收", "Errors and rejected rows"),
    "profile": ("标准配置", "profile"),
    "interval": ("95% 置信区间", "95 % interval"),
    "domestic": ("境内", "domestic"),
    "foreign": ("境外", "foreign"),
    "unknown": ("未知", "unknown"),
    "unregistered": ("未登记", "unregistered"),
    "open-source": ("开源语料", "open-source"),
    "self-collected": ("自采语料", "self-collected"),
    "commercial": ("商业语料", "commercial"),
    "synthetic": ("合成语料", "synthetic"),
    "user-provided": ("用户提供", "user-provided"),
    "borderline": ("临界", "borderline"),
    "borderline_note": (
        "临界：合格率 {rate} 的 95% 置信区间 {low}–{high} 包含阈值 {threshold}；结论按点估计给出。按此合格率，约 {n} 条判定可确定结论。",
        "Borderline: the 95 % interval {low}-{high} of the pass rate {rate} holds the threshold {threshold}; the status follows the point estimate. At this rate, {n} verdicts would settle it.",
    ),
    "borderline_unsettled": (
        "临界：合格率 {rate} 恰好等于阈值 {threshold}，增加样本也无法确定结论。",
        "Borderline: the pass rate {rate} equals the threshold {threshold}; no sample size settles it.",
    ),
    "human_progress": (
        "人工判定：已判定 {judged} / {documents} 条；判定满 {needed} 条后评估人工抽检（标准要求 {required} 条，样本更小时为整个样本）。",
        "Human verdicts: {judged} of {documents} documents judged; the human spot check is assessed from {needed} verdicts (the standard's {required}, or the whole sample if smaller).",
    ),
    "per_source_estimates": ("各来源人工判定估计（人工抽检样本与按来源样本的判定）", "Per-source estimates (verdicts on the human and the per-source samples)"),
    "judged": ("已判定", "judged"),
    "pass_rate": ("合格率", "pass rate"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}

CHECK_NAMES: dict[str, tuple[str, str]] = {
    "source-unsafe-share": ("来源违法不良信息占比", "Per-source unsafe share"),
    "blocklisted-sources": ("黑名单来源", "Blocklisted sources"),
    "source-diversity": ("来源多样性", "Source diversity"),
    "source-traceability": ("来源可追溯", "Source traceability"),
    "technical-spot-check": ("技术抽检", "Technical spot check"),
    "human-spot-check": ("人工抽检", "Human spot check"),
    "keyword-library": ("关键词库规模", "Keyword library"),
    "foreign-open-source-share": ("境外开源语料占比（备案实践）", "Foreign open-source share (filing practice)"),
}


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        msg = f"unknown report language {lang!r} (known: {', '.join(LANGUAGES)})"
        raise ConfigError(msg)
    return lang


def label(key: str, lang: str) -> str:
    """The label in ``lang``; keys without a translation (e.g. risk codes, terms) come back unchanged."""
    pair = _LABELS.get(key) or CHECK_NAMES.get(key)
    return pair[LANGUAGES.index(lang)] if pair else key


def requirement(check: dict, lang: str) -> str:
    return check["requirement"] if lang == "zh" else check["requirement_en"]


def risk_name(entry: dict, lang: str) -> str:
    return entry["name_zh"] if lang == "zh" else entry["name_en"]
