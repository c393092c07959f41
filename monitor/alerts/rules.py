"""The alert engine: rules from the configuration, judged once per hop on the caller's cues.

Each acoustic rule compares one cue with the caller's :class:`~monitor.analysis.baseline.Baseline`
(a relative or dB change, widened by the baseline's own spread) and with an absolute
floor or ceiling (so a caller in trouble from the first second still alerts, before or
without a baseline).  A rule raises after its cue stayed beyond threshold ``persist_s``
seconds, clears after ``clear_s`` seconds of recovery, and does not repeat within
``cooldown_s``. What counts towards that persistence (:func:`counts_for_warning`): once the
caller has a baseline, the absolute limit alone only when the cue also moved from it
(``absolute_min_change``), and before it, for a rule that names ``absolute_corroborate``
families, only while one of them is past too or the value is far past the limit
(``absolute_alone_grade``); for a rule that names families to ``corroborate`` (audible breaths,
loudness: cues that babble or the line move on their own), only while a rule of one of them is
past its limits too (within ``corroborate_s``: a cue at its threshold flickers past and back).
A raised warning counts its recovery the same way: one that no longer counts for ``clear_s``
clears, its own cue past or not. A rule with ``net_of_pauses`` (the speech rate) judges its cue net of
the rise of the caller's silent pauses (:func:`net_of_pauses`): the pauses count once, in the
pausing family. Missing values (``None``, or windows where the caller hardly
spoke) leave every rule as it was: they never raise, clear or count time.

``possible_emergency`` (critical) fuses the evidence (see :class:`Fusion`): every rule
*grades* its cue (1 at its threshold, 2 twice as far beyond it), each family of cues
(tempo, pausing, latency, voice, loudness, breathing) counts once with its strongest grade,
and a one-sided CUSUM per family accumulates that grade beyond a drift while the caller takes
part in the call (a second one per family the grades of the short window, the caller's last few
seconds of speech, with a drift of its own). The alert is raised when enough families have
accumulated enough evidence, when one family's change from the caller's own baseline has
accumulated far enough on its own (if ``single_family`` is set), or when a recent distress
phrase (:meth:`AlertEngine.on_phrase`) meets an agreeing family. Deterministic, pure Python,
no I/O.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from ..analysis.baseline import SHORT_SLACK_S, Baseline, CueStats
from ..config import AnalysisConfig, Config, EmergencyRuleConfig, RuleConfig
from ..cue_registry import SPEECH_CUES, cue
from ..events import AlertClearedEvent, AlertEvent, CuesEvent, Event
from .evidence import WINDOWS, not_heard_text
from .meaning import kind_name

EPS = 1e-9

HOLD_HISTORY_S = 60.0
"""How far back the fusion keeps the ``hold_families``' sums, to undo a hold's first seconds
(a hold is found ``analysis.hold_rest_quiet_s`` after it began)."""


@dataclass(frozen=True)
class Judgement:
    """One rule's verdict on one cue value."""

    value: float
    beyond: bool
    baseline: float | None
    threshold: float | None
    """The baseline-derived threshold (None without a usable baseline)."""
    absolute: float | None
    basis: str | None
    """What fired: "baseline", "absolute", "baseline+absolute" or None."""
    grade: float = 0.0
    """How far beyond: 1 at the threshold (or graded absolute limit), 2 twice as far, 0 at or
    before the baseline (or the typical value)."""
    change: float = 0.0
    """The grade of the change from the caller's own baseline alone (0 without a baseline)."""
    measured: float | None = None
    """The cue as measured, where ``value`` is it net of the pauses' rise (``net_of_pauses``), else None."""
    absolute_grade: float = 0.0
    """The grade from the absolute limit alone (graded from the cue's typical value; 0 without a
    limit, or where ``absolute_grade_min_change`` leaves it out)."""
    window_s: float | None = None
    """The call time the cue window it was judged on spans (the long window's or the short one's)."""


def judge(rule: RuleConfig, value: float, baseline: Baseline | None, short: bool = False) -> Judgement:
    """Compare ``value`` with the rule's baseline threshold and its absolute limit; ``short``:
    the value is the short window's, judged against the baseline's short windows."""
    below = rule.direction == "below"

    def past(v: float, limit: float) -> bool:
        return v < limit if below else v > limit

    stats = baseline.stats(rule.cue, short) if baseline is not None else None
    b = stats.median if stats is not None else None
    threshold = _baseline_threshold(rule, stats) if stats is not None else None
    by_baseline = (threshold is not None and past(value, threshold)
                   and (rule.gate is None or not past(rule.gate, value)))
    by_absolute = rule.absolute is not None and past(value, rule.absolute)
    basis = ("baseline+absolute" if by_baseline and by_absolute else
             "baseline" if by_baseline else "absolute" if by_absolute else None)
    change = _grade(value, b, _effective(rule, threshold, below))
    absolute_grade = _absolute_grade(rule, value, threshold, change)
    return Judgement(value=value, beyond=by_baseline or by_absolute, baseline=b,
                     threshold=threshold, absolute=rule.absolute, basis=basis,
                     grade=max(change, absolute_grade), change=change, absolute_grade=absolute_grade)


def net_of_pauses(rule: RuleConfig, value: float, pause_ratio: float | None, breath_share: float | None,
                  stats: CueStats | None) -> float:
    """``value`` (the rule's cue over the caller's turn time, pauses included: the speech rate) with
    ``rule.net_of_pauses`` of the pause ratio's rise above the caller's baseline median (``stats``)
    taken out, unless more than ``rule.net_breath_share`` of the window's pauses hold an audible
    breath (``breath_share``; 0: any of them).

    A speech rate is the articulation rate times (1 - pause ratio), so
    ``value * ((1 - base) / (1 - pause_ratio)) ** share`` is, at share 1, the rate of a caller who
    speaks as they do now but pauses as in their baseline: silent pauses are the pausing family's
    evidence and count there once (a hesitant caller looking for a number pauses, and articulates
    as before). Pauses that hold breaths are a breathless caller's, and the slowing they make is
    counted as tempo too. Unchanged without a baseline, a pause ratio or a rise."""
    if rule.net_of_pauses <= 0 or pause_ratio is None or stats is None:
        return value
    if breath_share is not None and breath_share > rule.net_breath_share + EPS:
        return value
    base = stats.median
    if not base < pause_ratio < 1.0:
        return value
    return value * ((1.0 - base) / (1.0 - pause_ratio)) ** rule.net_of_pauses


def net_value(rule: RuleConfig, value: float, cues: CuesEvent, baseline: Baseline | None,
              short: bool = False) -> float:
    """``value`` of the long window's cues (``short``: the short window's) net of the pauses'
    rise (:func:`net_of_pauses`), from the same window's pause ratio and breath share and the
    baseline's matching statistics."""
    read = cues.short_value if short else cues.value
    stats = baseline.stats("pause_ratio", short) if baseline is not None else None
    return net_of_pauses(rule, value, read("pause_ratio"), read("paused_breath_share"), stats)


def families_past(rules: tuple[RuleConfig, ...], judged: Mapping[str, Judgement]) -> dict[str, str]:
    """Per family of evidence with a rule past its threshold or absolute limit in ``judged``
    (judgements per rule kind at one hop), the first such rule's kind."""
    out: dict[str, str] = {}
    for r in rules:
        if r.kind in judged and judged[r.kind].beyond:
            out.setdefault(cue(r.cue).family, r.kind)
    return out


def counts_for_warning(rule: RuleConfig, j: Judgement, t: float,
                       past_at: Mapping[str, tuple[float, str]]) -> bool:
    """Whether the rule's judgement at call time ``t`` counts towards its warning's persistence:
    its cue is past (``j.beyond``); a value past the absolute limit alone, where the caller's
    baseline gives a threshold, has also moved ``rule.absolute_min_change`` of the way towards
    it (``j.change``: towards the gate where that lies further); and, if the rule names families to ``corroborate``, a rule of one of them was past its
    limits within the last ``rule.corroborate_s`` (``past_at``: per family, the last call time
    and rule kind, from :func:`families_past`); a value past the absolute limit alone before there is
    a baseline threshold, for a rule that names ``absolute_corroborate`` families, only while one of
    them was past too (:func:`alone_before_baseline`). Warnings only: the grades
    ``possible_emergency`` fuses do not depend on it."""
    if not j.beyond:
        return False
    if j.basis == "absolute" and j.threshold is not None and j.change < rule.absolute_min_change - EPS:
        return False
    if alone_before_baseline(rule, j) and not corroborating(rule, t, past_at, rule.absolute_corroborate):
        return False
    return not rule.corroborate or bool(corroborating(rule, t, past_at))


def alone_before_baseline(rule: RuleConfig, j: Judgement) -> bool:
    """Whether ``j`` is past the rule's absolute limit alone before the caller's baseline gives the
    rule a threshold, for a rule that names families to ``absolute_corroborate`` such a value, and
    short of ``rule.absolute_alone_grade`` (``j.grade``: 1 at the limit, from the cue's typical
    value), beyond which it counts on its own."""
    return (bool(rule.absolute_corroborate) and j.basis == "absolute" and j.threshold is None
            and (rule.absolute_alone_grade <= 0 or j.grade < rule.absolute_alone_grade - EPS))


def warning_counts(rules: tuple[RuleConfig, ...], judged: Mapping[str, Judgement], t: float,
                   past_at: dict[str, tuple[float, str]]) -> dict[str, bool]:
    """Per rule kind judged at call time ``t`` (``judged``), whether it counts towards its warning
    (:func:`counts_for_warning`), once ``past_at`` has taken the families past at ``t``
    (:func:`families_past`; updated in place, it carries the corroboration from hop to hop)."""
    past_at.update({f: (t, kind) for f, kind in families_past(rules, judged).items()})
    return {r.kind: counts_for_warning(r, judged[r.kind], t, past_at) for r in rules if r.kind in judged}


def corroborating(rule: RuleConfig, t: float, past_at: Mapping[str, tuple[float, str]],
                  families: tuple[str, ...] | None = None) -> list[str]:
    """The rule kinds of the ``families`` (default: those the rule names to ``corroborate``) that
    were past their limits within ``rule.corroborate_s`` of call time ``t`` (see
    :func:`counts_for_warning`)."""
    named = rule.corroborate if families is None else families
    return [past_at[f][1] for f in named
            if f in past_at and t - past_at[f][0] <= rule.corroborate_s + EPS]


def _baseline_threshold(rule: RuleConfig, stats: CueStats) -> float | None:
    """The baseline test's limit: the relative or delta change, widened by ``mad_k`` spreads."""
    below = rule.direction == "below"
    b = stats.median
    candidates = []
    if rule.relative_change is not None and b > 0:
        candidates.append(b * (1.0 + rule.relative_change))
    if rule.delta is not None:
        candidates.append(b + rule.delta)
    if not candidates:
        return None
    threshold = min(candidates) if below else max(candidates)
    if rule.mad_k > 0:
        guard = b - rule.mad_k * stats.spread if below else b + rule.mad_k * stats.spread
        threshold = min(threshold, guard) if below else max(threshold, guard)
    return threshold


def _effective(rule: RuleConfig, threshold: float | None, below: bool) -> float | None:
    """The baseline threshold moved out to the gate, when the gate lies further."""
    if threshold is None or rule.gate is None:
        return threshold
    return min(threshold, rule.gate) if below else max(threshold, rule.gate)


def _absolute_grade(rule: RuleConfig, value: float, threshold: float | None, change: float) -> float:
    """The value's grade from the rule's absolute limit (graded from the cue's typical value), or 0
    where the caller's baseline gives a threshold and the value has moved less than
    ``rule.absolute_grade_min_change`` of the way to it (``change``): a caller breathy or slow from
    the first word who stays as they were adds no evidence once their baseline holds their manner."""
    if threshold is not None and change < rule.absolute_grade_min_change - EPS:
        return 0.0
    return _grade(value, cue(rule.cue).typical, rule.absolute)


def _grade(value: float, origin: float | None, limit: float | None) -> float:
    """``(value - origin) / (limit - origin)``, at least 0: 1 at the limit, 0 at the origin."""
    if origin is None or limit is None or abs(limit - origin) < EPS:
        return 0.0
    return max(0.0, (value - origin) / (limit - origin))


def unheard_within(unheard: Sequence[tuple[float, float]], t0: float, t1: float) -> float:
    """The seconds from call time ``t0`` to ``t1`` that the spans ``unheard`` (call time not heard
    of the caller's leg, ``(start, end)``) hold."""
    return sum((max(0.0, min(b, t1) - max(a, t0)) for a, b in unheard), 0.0)


def steady_tone(analysis: AnalysisConfig, articulation_sps: float | None, hnr_db: float | None) -> bool:
    """Whether a window's "speech" is a steady tone, not the caller: fewer than
    ``analysis.tone_max_articulation_sps`` syllables per second of it and yet as harmonic as
    ``analysis.tone_min_hnr_db`` or more. Voiced speech that harmonic has vowels, hence
    syllables; mains hum taken for speech has none (a whispered or aphonic caller's speech has
    no syllable nuclei either, but no harmonics: it is kept). The rules skip the speech cues
    (:data:`~monitor.cue_registry.SPEECH_CUES`) of such a window."""
    a = analysis
    return (a.tone_max_articulation_sps > 0 and articulation_sps is not None and hnr_db is not None
            and articulation_sps < a.tone_max_articulation_sps and hnr_db >= a.tone_min_hnr_db)


class _Hysteresis:
    """Persist / clear / cooldown bookkeeping for one alert kind."""

    def __init__(self, persist_s: float, clear_s: float, cooldown_s: float) -> None:
        self.persist_s, self.clear_s, self.cooldown_s = persist_s, clear_s, cooldown_s
        self.active = False
        self.since: float | None = None      # start of the current run beyond threshold
        self.beyond_s = 0.0
        self.recovered_s: float | None = None
        self.last_raised: float | None = None
        self.raised_since: float | None = None

    def step(self, t: float, dt: float, beyond: bool, may_raise: bool = True) -> str | None:
        """Advance by one judged hop; returns "raise", "clear" or None (a raise due while not
        ``may_raise`` waits for a hop that may)."""
        if beyond:
            self.recovered_s = None
            if self.since is None:
                self.since, self.beyond_s = t, 0.0
            else:
                self.beyond_s += dt
            cooled = self.last_raised is None or t - self.last_raised >= self.cooldown_s - EPS
            if not self.active and may_raise and cooled and self.beyond_s >= self.persist_s - EPS:
                self.active, self.last_raised, self.raised_since = True, t, self.since
                return "raise"
            return None
        self.since, self.beyond_s = None, 0.0
        if not self.active:
            return None
        self.recovered_s = 0.0 if self.recovered_s is None else self.recovered_s + dt
        if self.recovered_s >= self.clear_s - EPS:
            self.active, self.recovered_s = False, None
            return "clear"
        return None


@dataclass(frozen=True)
class _Phrase:
    t: float
    phrase: str
    excerpt: str
    since: float
    """When the first matched word began (``t``: when the last one ended)."""


@dataclass(frozen=True)
class _Raisers:
    """The families a possible emergency names: those that agree (level >= 1, strongest first); when
    they are too few or too weak, the one whose evidence alone raises it, else the ``paired`` families
    past their absolute limits together; ``shown``: all of them, the agreeing first."""
    agree: dict[str, float]
    alone: str | None
    paired: tuple[str, ...] | None
    shown: list[str]


EVIDENCE_CAP = 1.5
"""An accumulator holds at most this many times the evidence its decision needs (the families'
sums ``max_grade * evidence_s``, the change sums of one family alone ``max(max_grade,
single_family) * evidence_s``), so that it drains within seconds once the trouble passes instead
of remembering an old episode for minutes."""


class Fusion:
    """The evidence behind ``possible_emergency``, accumulated per family (see the module docstring).

    Every hop, a family's grade is its strongest judged cue's grade (capped at ``max_grade``,
    optionally smoothed over ``smooth_s``). A one-sided CUSUM per family accumulates that grade
    minus ``drift``, weighted by the hop's seconds while the caller takes part in the call (see
    :meth:`AlertEngine._weight`): ``S = clip(S + w * (grade - drift), 0, cap)``. A cue within
    ``drift`` of its threshold drains the sum, so healthy fluctuation never builds up; a severe
    change fills it within seconds, a mild one later, one at the drift never. The short window's
    grades (a few seconds of the caller's speech, judged against the baseline's short windows)
    accumulate in a second sum per family with their own ``short_drift`` (higher: they are
    noisier), so that a severe change counts within seconds of labored speech instead of once
    the long window has filled with it. A family's *level* is the larger of its two sums over
    ``evidence_s`` (capped at ``max_grade``); at level 1 it *agrees*. A third sum per family,
    :attr:`change`, accumulates the long window's grade of the change from the caller's own
    baseline alone: a family alone is judged on it (``single_family``), so that a caller whose
    manner is slow, hesitant, quiet or breathy from the start (a baseline that already holds it)
    does not reach critical on one family's absolute limit. With ``single_support`` that sum grows
    only while another family of ``single_support_families`` has moved that far from the baseline
    as well (a labored caller's slower syllables come with longer pauses; a healthy caller's
    slower window of short answers or of hum in their pauses does not). A family without a judged
    cue this hop keeps its sums.

    Weighing by call time rather than by the seconds of new caller speech is measured: a
    labored caller says little, and speech-weighted sums reached critical later for exactly the
    callers who need it sooner (tools/onset_budget.py, the corpus's tuning half).
    """

    def __init__(self, pe: EmergencyRuleConfig, rules: tuple[RuleConfig, ...],
                 evidence: Mapping[str, float] | None = None) -> None:
        self.pe = pe
        self.family_of = {r.kind: cue(r.cue).family for r in rules if r.kind in pe.kinds}
        families = set(self.family_of.values())
        self.evidence = {f: v for f, v in (evidence or {}).items() if f in families}
        """Per family, the long window's accumulated grade beyond the drift (grade x seconds)."""
        self.short_evidence: dict[str, float] = {}
        """Per family, the short window's accumulated grade beyond ``short_drift``."""
        self.change: dict[str, float] = {}
        """Per family, the same accumulation of the change from the caller's own baseline alone
        (absolute limits left out), while a family of ``single_support_families`` has moved
        ``single_support`` from the baseline too (else it drains): what a single family is judged on."""
        self.grade: dict[str, float] = {}
        """Per family, its (smoothed) long-window grade at the last judged hop."""
        self.short_grade: dict[str, float] = {}
        """Per family, its short-window grade at the last judged hop."""
        self.since: dict[tuple[str, str], tuple[float, float]] = {}
        """Per (window, family), (call time, seconds accumulated) since its sum last left zero."""
        self.best: dict[tuple[str, str], tuple[str, Judgement]] = {}
        """Per (window, family), the rule kind and judgement of its strongest cue when it last rose."""
        self.turns: dict[str, frozenset[int]] = {}
        """Per family, the caller turns (counted ones) in which one of its sums grew since they
        last were both zero (``min_turns``)."""
        self.absolute: dict[str, float] = {}
        """Per family, its strongest cue's grade from the absolute limit alone at its last judged hop
        (long window): what a caller labored from the first word shows (``paired_grade``)."""
        self.paired_held = 0.0
        """Seconds (weighted as the sums) that ``paired_count`` families' absolute grades have been at
        least ``paired_grade`` together, one of them of ``paired_families``."""
        self._pushed: set[str] = set()  # the families whose grade was beyond its drift this hop
        self._past: dict[tuple[str, str], deque[tuple[float, float]]] = {}  # hold_families' recent sums
        self._resting: frozenset[str] = frozenset()  # the families resting over a hold this hop
        self._rewound: float | None = None  # the start of the hold whose evidence was last undone
        self.cap = EVIDENCE_CAP * pe.max_grade * pe.evidence_s
        self.change_cap = EVIDENCE_CAP * max(pe.max_grade, pe.single_family) * pe.evidence_s

    def update(self, t: float, dt: float, weight: float, judged: Mapping[str, Judgement],
               judged_short: Mapping[str, Judgement] | None = None, turn: int | None = None,
               hold_since: float | None = None) -> None:
        """One hop of ``dt`` seconds of call time, accumulated with ``weight`` (seconds: ``dt``
        while the caller takes part in the call, 0 while their cue window is stale); ``judged``
        holds the long window's judgements per rule kind, ``judged_short`` the short window's;
        ``turn`` is the caller's turn when it counts towards ``min_turns`` (else None);
        ``hold_since``: when the hold the hop lies in (or just after) began (:meth:`rest`)."""
        self._pushed = set()
        self.rest(t, hold_since)
        self._update_sums(t, dt, weight, judged, judged_short or {})
        self._update_paired(weight, judged)
        self._note_turns(turn)

    def rest(self, t: float, hold_since: float | None) -> None:
        """Over a hold (``hold_since``: when it began; None: no hold) the ``hold_families`` rest:
        their sums (the long and short windows' and the change's, :attr:`change`) do not move this
        hop, and once per hold they go back to what they were when it began (the hold's first
        seconds, before it was known for one, added the babble's evidence). Keeps those families'
        sums of the last ``HOLD_HISTORY_S`` for that."""
        names = set(self.pe.hold_families)
        self._resting = frozenset(names) if hold_since is not None else frozenset()
        if not names:
            return
        for window in (*WINDOWS, "change"):
            for family in names:
                past = self._past.setdefault((window, family), deque())
                past.append((t, self._sums(window).get(family, 0.0)))
                while past and past[0][0] < t - HOLD_HISTORY_S:
                    past.popleft()
        if hold_since is None or hold_since == self._rewound:
            return
        self._rewound = hold_since
        for (window, family), past in self._past.items():
            then = next((v for at, v in past if at >= hold_since), None)
            sums = self._sums(window)
            if then is not None and family in sums:
                sums[family] = min(sums[family], then)
                if sums[family] <= 0.0:
                    self.since.pop((window, family), None)

    def _update_paired(self, weight: float, judged: Mapping[str, Judgement]) -> None:
        """Take the families' absolute grades of this hop (a family not judged keeps its last) and
        count the weighted seconds ``paired_count`` families stay at ``paired_grade`` (a hop without
        them restarts it; a hop of weight 0 holds it still, as the sums)."""
        if self.pe.paired_grade <= 0:  # off: nothing reads them
            return
        self.absolute.update({f: g for f, (g, _) in self._family_grades(judged, absolute=True).items()})
        if weight > 0:
            self.paired_held = self.paired_held + weight if self.pair() is not None else 0.0

    def _note_turns(self, turn: int | None) -> None:
        """Add ``turn`` to the turns of each family pushed up this hop (a grade beyond its drift,
        whether or not the sum is at its cap); forget a family's turns once both sums are zero."""
        for f in self.families():
            if self.evidence.get(f, 0.0) <= 0.0 and self.short_evidence.get(f, 0.0) <= 0.0:
                self.turns.pop(f, None)
            elif turn is not None and f in self._pushed:
                self.turns[f] = self.turns.get(f, frozenset()) | {turn}

    def _update_sums(self, t: float, dt: float, weight: float, judged: Mapping[str, Judgement],
                     judged_short: Mapping[str, Judgement]) -> None:
        grades = self._family_grades(judged)
        changes = self._family_grades(judged, change=True)
        for family, (change, _) in changes.items():
            supported = change if self._supported(family, changes) else 0.0
            self.change[family] = self._step(self.change.get(family, 0.0),
                                             0.0 if family in self._resting else weight, supported,
                                             self.pe.drift, self.change_cap)
        alpha = 1.0 if self.pe.smooth_s <= 0 else 1.0 - math.exp(-dt / self.pe.smooth_s)
        for family, (grade, kind) in grades.items():
            old_grade = self.grade.get(family, grade)
            g = self.grade[family] = old_grade + alpha * (grade - old_grade)
            self._accumulate("long", family, t, weight, g)
            self._keep_best("long", family, kind, judged[kind], grade >= old_grade)
        for family, (grade, kind) in self._family_grades(judged_short).items():
            rose = grade >= self.short_grade.get(family, grade)
            self.short_grade[family] = grade
            self._accumulate("short", family, t, weight, grade)
            self._keep_best("short", family, kind, judged_short[kind], rose)

    def _supported(self, family: str, changes: Mapping[str, tuple[float, str]]) -> bool:
        """Whether ``family``'s change may accumulate towards ``single_family`` this hop: always
        without ``single_support``, else while another family of ``single_support_families`` has
        moved that far from the caller's baseline too (``changes``: per family, its change grade)."""
        need = self.pe.single_support
        return need <= 0 or any(g >= need - EPS for f, (g, _) in changes.items()
                                if f != family and f in self.pe.single_support_families)

    def _family_grades(self, judged: Mapping[str, Judgement], change: bool = False,
                       absolute: bool = False) -> dict[str, tuple[float, str]]:
        """Per family, its strongest cue's grade (or change grade, or absolute grade), capped, and
        that cue's rule kind."""
        grades: dict[str, tuple[float, str]] = {}
        for kind, j in judged.items():
            family = self.family_of.get(kind)
            g = j.absolute_grade if absolute else j.change if change else j.grade
            if family is not None and g >= grades.get(family, (-1.0, ""))[0]:
                grades[family] = (min(g, self.pe.max_grade), kind)
        return grades

    def _keep_best(self, window: str, family: str, kind: str, j: Judgement, rose: bool) -> None:
        if rose or (window, family) not in self.best:
            self.best[(window, family)] = (kind, j)

    @staticmethod
    def _step(total: float, weight: float, grade: float, drift: float, cap: float) -> float:
        """One CUSUM step: ``clip(total + weight * (grade - drift), 0, cap)``."""
        return min(cap, max(0.0, total + weight * (grade - drift)))

    def _sums(self, window: str) -> dict[str, float]:
        """The sums per family of ``window``: "long", "short" or "change" (:attr:`change`)."""
        return {"short": self.short_evidence, "change": self.change}.get(window, self.evidence)

    def _accumulate(self, window: str, family: str, t: float, weight: float, grade: float) -> None:
        """Step the window's sum of the family and keep since when (and for how long) it has been
        above zero."""
        sums = self._sums(window)
        drift = self.pe.short_drift if window == "short" else self.pe.drift
        if family in self._resting:
            weight = 0.0
        old = sums.get(family, 0.0)
        new = sums[family] = self._step(old, weight, grade, drift, self.cap)
        if weight > 0 and grade > drift:
            self._pushed.add(family)
        key = (window, family)
        if new <= 0.0:
            self.since.pop(key, None)
        elif old <= 0.0 or key not in self.since:
            self.since[key] = (t, weight)
        else:
            start, held = self.since[key]
            self.since[key] = (start, held + weight)

    def window(self, family: str) -> str:
        """The window whose sum of the family is larger ("long" on a tie)."""
        return "short" if self.short_evidence.get(family, 0.0) > self.evidence.get(family, 0.0) else "long"

    def level(self, family: str) -> float:
        """The family's larger accumulated evidence in units of ``evidence_s``, capped at ``max_grade``."""
        total = max(self.evidence.get(family, 0.0), self.short_evidence.get(family, 0.0))
        return min(total / self.pe.evidence_s, self.pe.max_grade)

    def families(self) -> set[str]:
        return set(self.evidence) | set(self.short_evidence)

    def cause(self, family: str) -> tuple[str, Judgement, str] | None:
        """The rule kind, judgement and window behind the family's level."""
        w = self.window(family)
        best = self.best.get((w, family))
        return None if best is None else (best[0], best[1], w)

    def agreeing(self) -> dict[str, float]:
        """Families at level >= 1, strongest first."""
        agree = {f: self.level(f) for f in self.families() if self.level(f) >= 1.0 - EPS
                 and len(self.turns.get(f, ())) >= self.pe.min_turns}
        return dict(sorted(agree.items(), key=lambda kv: (-kv[1], kv[0])))

    def score(self) -> float:
        return float(sum(self.agreeing().values()))

    def alone(self) -> str | None:
        """The family whose evidence alone makes an emergency (``single_family`` x ``evidence_s``)."""
        if self.pe.single_family <= 0:
            return None
        need = self.pe.single_family * self.pe.evidence_s
        strong = [f for f, v in self.change.items() if v >= need - EPS and f in self.pe.single_families]
        return max(strong, key=lambda f: self.change[f]) if strong else None

    def pair(self) -> tuple[str, ...] | None:
        """The strongest family of ``paired_families`` and the ``paired_count - 1`` strongest other
        families, when all their absolute grades are at least ``paired_grade`` (None if there are
        not that many, or it is off)."""
        need = self.pe.paired_grade
        if need <= 0:
            return None
        past = {f: g for f, g in self.absolute.items() if g >= need - EPS}
        named = [f for f in self.pe.paired_families if f in past]
        if not named:
            return None
        first = max(named, key=lambda f: past[f])
        others = sorted((f for f in past if f != first), key=lambda f: (-past[f], f))
        more = self.pe.paired_count - 1
        return (first, *others[:more]) if len(others) >= more else None

    def paired(self) -> tuple[str, ...] | None:
        """The families of :meth:`pair` once they have held ``paired_s`` (None before or without them)."""
        pair = self.pair()
        return pair if pair is not None and self.paired_held >= self.pe.paired_s - EPS else None

    def acoustic(self) -> bool:
        """Enough families agree strongly enough without a phrase, one family alone is far
        enough beyond for long enough, or ``paired_count`` families past ``paired_grade`` of their
        absolute limits together for ``paired_s``."""
        agree = self.agreeing()
        return ((len(agree) >= self.pe.min_families and self.score() >= self.pe.min_score - EPS)
                or self.alone() is not None or self.paired() is not None)

    def holds(self, phrase: bool) -> bool:
        return self.acoustic() or (phrase and self.pe.with_phrase
                                   and len(self.agreeing()) >= self.pe.phrase_min_families)

    def reconfigured(self, pe: EmergencyRuleConfig, rules: tuple[RuleConfig, ...]) -> "Fusion":
        """The same accumulated evidence under new settings (families no longer counted drop out)."""
        new = Fusion(pe, rules, self.evidence)
        kept = set(new.family_of.values())
        new.evidence = {f: min(v, new.cap) for f, v in new.evidence.items()}
        new.short_evidence = {f: min(v, new.cap) for f, v in self.short_evidence.items() if f in kept}
        new.change = {f: min(v, new.change_cap) for f, v in self.change.items() if f in kept}
        new.grade = {f: v for f, v in self.grade.items() if f in kept}
        new.short_grade = {f: v for f, v in self.short_grade.items() if f in kept}
        new.since = {k: v for k, v in self.since.items() if k[1] in kept}
        new.best = {k: v for k, v in self.best.items() if k[1] in kept}
        new.turns = {f: v for f, v in self.turns.items() if f in kept}
        new.absolute = {f: v for f, v in self.absolute.items() if f in kept}
        new.paired_held = self.paired_held
        new._past, new._rewound = self._past, self._rewound
        return new

    def report(self) -> dict[str, dict[str, Any]]:
        """Per family with evidence: what accumulated in each window, its level, the window behind
        it, since when and for how long that window's sum has been accumulating."""
        out = {}
        for f in sorted(self.families(), key=lambda f: (-self.level(f), f)):
            if self.level(f) > 0:
                w = self.window(f)
                start, held = self.since.get((w, f), (None, 0.0))
                out[f] = {"evidence": round(self.evidence.get(f, 0.0), 3),
                          "short_evidence": round(self.short_evidence.get(f, 0.0), 3),
                          "window": w, "level": round(self.level(f), 3),
                          "change_evidence": round(self.change.get(f, 0.0), 3),
                          "grade": round(self.grade.get(f, 0.0), 3),
                          "short_grade": round(self.short_grade.get(f, 0.0), 3),
                          "since": start, "held_s": round(held, 2)}
        return out


class AlertEngine:
    """Judges one call's caller cues; create one engine per call."""

    def __init__(self, config: Config, channel: str = "caller") -> None:
        self.config = config
        self.channel = channel
        self._rules = tuple(r for r in config.rules.acoustic if r.enabled)
        self._state = {r.kind: _Hysteresis(r.persist_s, r.clear_s, r.cooldown_s)
                       for r in self._rules}
        self._last: dict[str, Judgement] = {}
        self._with: dict[str, tuple[str, ...]] = {}  # per kind, the corroborating rules at its last count
        self._past_at: dict[str, tuple[float, str]] = {}  # per family, when and which rule was last past
        pe = config.rules.possible_emergency
        self._emergency = _Hysteresis(pe.persist_s, pe.clear_s, pe.cooldown_s)
        self.fusion = Fusion(pe, self._rules)
        self._window_s: float | None = None
        self._phrase: _Phrase | None = None
        self._phrase_raised: dict[str, float] = {}
        self._emergency_by_phrase = False  # the raised possible_emergency counted a distress phrase
        self._last_t: float | None = None
        self._unheard: tuple[tuple[float, float], ...] = ()  # the caller's time not heard, as the last update said
        self._last_speech: float | None = None  # the caller's speech in the call at the last hop
        self._last_spoke: float | None = None  # call time of the last hop that brought caller speech
        self._turn = 0  # the caller's turns so far (min_turns), and the hops with speech in the last
        self._turn_hops = 0

    def reconfigure(self, config: Config) -> list[Event]:
        """Take new thresholds mid-call (SIGHUP) keeping each kept kind's state.

        Returns clears for active alerts whose rule was removed or disabled.
        """
        out: list[Event] = []
        rules = tuple(r for r in config.rules.acoustic if r.enabled)
        state: dict[str, _Hysteresis] = {}
        for r in rules:
            s = self._state.get(r.kind) or _Hysteresis(r.persist_s, r.clear_s, r.cooldown_s)
            s.persist_s, s.clear_s, s.cooldown_s = r.persist_s, r.clear_s, r.cooldown_s
            state[r.kind] = s
        t = self._last_t or 0.0
        agreed = self._agreement(t)
        out.extend(AlertClearedEvent(t=t, kind=k, reason="rule_disabled") for k, s in self._state.items()
                   if s.active and k not in state)
        pe = config.rules.possible_emergency
        e = self._emergency
        e.persist_s, e.clear_s, e.cooldown_s = pe.persist_s, pe.clear_s, pe.cooldown_s
        self.config, self._rules, self._state = config, rules, state
        self.fusion = self.fusion.reconfigured(pe, rules)
        # the emergency ends here too when its rule is off or the kinds that made it lost their rules
        if e.active and (not pe.enabled or (agreed and not self._agreement(t))):
            e.active, e.since, e.beyond_s, e.recovered_s = False, None, 0.0, None
            out.append(AlertClearedEvent(t=t, kind="possible_emergency", reason="rule_disabled"))
        return out

    @property
    def active_kinds(self) -> tuple[str, ...]:
        """Kinds with an alert raised and not cleared (possible_emergency last)."""
        kinds = tuple(k for k, s in self._state.items() if s.active)
        return kinds + (("possible_emergency",) if self._emergency.active else ())

    # ------------------------------------------------------------------ cues

    def update(self, cues: CuesEvent, baseline: Baseline | None,
               unheard: Sequence[tuple[float, float]] = ()) -> list[Event]:
        """Judge one hop of caller cues; returns alerts and clears, in rule order. ``unheard``: the
        spans of call time so far the caller's leg was not heard (the caller of the engine judges
        no hop wholly inside them); an alert says how much of its span they hold, nothing else."""
        if cues.channel != self.channel:
            return []
        self._unheard = tuple(unheard)
        t = cues.t
        hop = self.config.analysis.hop_s
        first = self._last_t is None
        dt = 0.0 if self._last_t is None else max(0.0, min(t - self._last_t, hop))
        self._last_t = t if self._last_t is None else max(t, self._last_t)
        self._window_s = cues.window_s
        judged = self.judge_long(cues, baseline)
        undecided = self._undecided(cues)
        out = self._step_warnings(t, dt, judged, undecided or cues.hold_since is not None)
        spoke_before = self._last_spoke
        weight = self._weight(cues, hop if first else dt)
        self.fusion.update(t, hop if first else dt, weight, judged, self.judge_short(cues, baseline),
                           self._count_turn(t, spoke_before, hop), cues.hold_since)
        out.extend(self._judge_emergency(t, dt, undecided))
        return out

    def judge_long(self, cues: CuesEvent, baseline: Baseline | None) -> dict[str, Judgement]:
        """Every rule judged on the long window, where it holds the rule's ``min_speech_s`` (the
        cues measured over speech left out when that speech is a steady tone)."""
        judged: dict[str, Judgement] = {}
        tone = steady_tone(self.config.analysis, cues.value("articulation_rate_sps"), cues.value("hnr_db"))
        for rule in self._rules:
            value = cues.value(rule.cue)
            if value is None or (rule.min_speech_s > 0 and cues.speech_s is not None
                                 and cues.speech_s < rule.min_speech_s):
                continue
            if tone and rule.cue in SPEECH_CUES:
                continue
            net = net_value(rule, float(value), cues, baseline)
            j = replace(judge(rule, net, baseline), window_s=cues.window_s)
            judged[rule.kind] = j if net == value else replace(j, measured=float(value))
        return judged

    def _step_warnings(self, t: float, dt: float, judged: Mapping[str, Judgement], silent: bool = False) -> list[Event]:
        """Each judged rule's hysteresis one hop on (:func:`counts_for_warning`); the warnings
        raised and cleared, in rule order. While the call is ``silent`` (a hold, or a silence of both
        parties not yet decided for one: :meth:`_undecided`) no warning is raised, as no critical is: one
        due then is raised with the next hop of clear talk, if its rule still counts; one raised goes on."""
        out: list[Event] = []
        counted = warning_counts(self._rules, judged, t, self._past_at)
        for rule in self._rules:
            counts = counted.get(rule.kind)
            if counts is None:
                continue
            if counts:
                self._last[rule.kind] = judged[rule.kind]
                named = rule.corroborate + (rule.absolute_corroborate
                                            if alone_before_baseline(rule, judged[rule.kind]) else ())
                self._with[rule.kind] = tuple(dict.fromkeys(corroborating(rule, t, self._past_at, named)))
            state = self._state[rule.kind]
            step = state.step(t, dt, counts, may_raise=not silent)
            if step == "raise":
                out.append(self._alert(rule, self._last[rule.kind], state, t))
            elif step == "clear":
                out.append(AlertClearedEvent(t=t, kind=rule.kind))
        return out

    def judge_short(self, cues: CuesEvent, baseline: Baseline | None) -> dict[str, Judgement]:
        """The emergency's rules judged on the short window, when it holds its full share of speech
        (against the baseline's short windows; absolute limits only if ``short_absolute``)."""
        pe = self.config.rules.possible_emergency
        need = self.config.analysis.short_speech_s
        if need <= 0 or (cues.short_value("speech_s") or 0.0) < need - SHORT_SLACK_S:
            return {}
        judged = {}
        tone = steady_tone(self.config.analysis, cues.short_value("articulation_rate_sps"),
                           cues.short_value("hnr_db"))
        for rule in self._rules:
            value = cues.short_value(rule.cue)
            if value is None or rule.kind not in pe.kinds or not rule.short_window:
                continue
            if tone and rule.cue in SPEECH_CUES:
                continue
            if not pe.short_absolute:
                rule = replace(rule, absolute=None)
            j = judge(rule, net_value(rule, float(value), cues, baseline, short=True), baseline, short=True)
            judged[rule.kind] = replace(j, window_s=cues.short_value("window_s"))
        return {kind: j if self._short_corroborated(kind, judged) else replace(j, grade=0.0)
                for kind, j in judged.items()}

    def _short_corroborated(self, kind: str, judged: Mapping[str, Judgement]) -> bool:
        """Whether the rule ``kind``'s short-window grade counts this hop: always unless it names
        families to ``short_corroborate``, else while a rule of one of them grades at least
        ``short_corroborate_grade`` on the short window too (``judged``: this hop's short windows)."""
        rule = next(r for r in self._rules if r.kind == kind)
        return not rule.short_corroborate or any(
            j.grade >= rule.short_corroborate_grade - EPS for k, j in judged.items()
            if self.fusion.family_of.get(k) in rule.short_corroborate)

    def _weight(self, cues: CuesEvent, dt: float) -> float:
        """Seconds the hop adds to the accumulation: ``dt`` while the caller has spoken within the
        last ``stale_s`` (their cue window is fresh), else 0 (a hold or a long agent turn adds
        no new evidence about the caller)."""
        total = cues.call_speech_s
        if total is None:  # no running total: the window's speech says whether the caller spoke
            spoke = bool(cues.speech_s)
        else:
            spoke = total > (self._last_speech or 0.0) + EPS
            self._last_speech = max(total, self._last_speech or 0.0)
        if spoke:
            self._last_spoke = cues.t
        stale = self.config.rules.possible_emergency.stale_s
        fresh = self._last_spoke is not None and cues.t - self._last_spoke <= stale + EPS
        return dt if fresh else 0.0

    def _count_turn(self, t: float, spoke_before: float | None, hop: float) -> int | None:
        """The caller's turn at this hop if it counts towards ``min_turns`` (it has held
        ``turn_speech_s`` of speech), else None. A turn begins when the caller speaks after
        ``turn_gap_s`` without speech."""
        pe = self.config.rules.possible_emergency
        if self._last_spoke == t:
            if spoke_before is None or t - spoke_before > pe.turn_gap_s + EPS:
                self._turn, self._turn_hops = self._turn + 1, 0
            self._turn_hops += 1
        return self._turn if self._turn_hops * hop >= pe.turn_speech_s - EPS else None

    def _alert(self, rule: RuleConfig, j: Judgement, state: _Hysteresis, t: float) -> AlertEvent:
        together = list(self._with.get(rule.kind, ()))
        since = state.raised_since or t
        unheard = self._unheard_s(since, t)
        message = self._message(rule, j, t - since, unheard)
        if together:
            message += ", with " + " and ".join(kind_name(k) for k in together)
        return AlertEvent(t=t, kind=rule.kind, severity=rule.severity, message=message,
                          evidence={**self._evidence(rule, j, since, t), "unheard_s": unheard,
                                    "corroborated_by": together},
                          actions=self._actions(rule.severity))

    def _unheard_s(self, since: float, t: float) -> float:
        """The seconds of an alert's span from ``since`` to ``t`` the caller was not heard."""
        return round(unheard_within(self._unheard, since, t), 3)

    def _evidence(self, rule: RuleConfig, j: Judgement, since: float, t: float) -> dict[str, Any]:
        rel = None
        if j.baseline is not None and j.baseline != 0:
            rel = (j.value - j.baseline) / abs(j.baseline)
        return {
            "cue": rule.cue, "direction": rule.direction, "value": j.value,
            "baseline": j.baseline,
            "threshold": j.threshold if j.basis in ("baseline", "baseline+absolute")
            or j.absolute is None else j.absolute,
            "baseline_threshold": j.threshold, "absolute": j.absolute, "basis": j.basis,
            "relative_change": rel,
            "change": None if j.baseline is None else j.value - j.baseline,
            "grade": j.grade, "since": since, "until": t, "window_s": j.window_s,
            "measured": j.measured,
        }

    def _message(self, rule: RuleConfig, j: Judgement, held_s: float, unheard_s: float = 0.0) -> str:
        """A warning in words: its cue against its threshold, for how long it has been past
        (``held_s``, with the ``unheard_s`` of it the caller was not heard)."""
        label, unit = cue(rule.cue).label, cue(rule.cue).unit
        title = kind_name(rule.kind).capitalize()
        u = f" {unit}" if unit else ""
        word = "below" if rule.direction == "below" else "above"
        if j.basis and j.basis.startswith("baseline") and j.baseline is not None:
            if (rule.delta is not None and rule.relative_change is None) or j.baseline == 0:
                du = " dB" if unit.startswith("dB") else u  # a difference of levels is in dB
                diff = f"{abs(j.value - j.baseline):.1f}{du} {word}"
            else:
                diff = f"{abs(j.value - j.baseline) / abs(j.baseline) * 100:.0f} % {word}"
            how = (f"{diff} the caller's baseline {j.baseline:.2f}{u} "
                   f"(threshold {j.threshold:.2f}{u})")
        else:
            limit = "floor" if rule.direction == "below" else "ceiling"
            how = f"{word} the absolute {limit} {j.absolute:.2f}{u}"
        net = "" if j.measured is None else f" net of the longer silent pauses (measured {j.measured:.2f}{u})"
        unheard = not_heard_text(unheard_s)
        held = f"{held_s:.0f} s" + (f" ({unheard})" if unheard else "")
        return f"{title}: {label} {j.value:.2f}{u}{net}, {how}, for {held}"

    def _actions(self, severity: str) -> tuple[str, ...]:
        a = self.config.actions
        return a.critical if severity == "critical" else a.warning

    # ------------------------------------------------------------------ emergency

    def _agreement(self, t: float) -> bool:
        """Whether the fused evidence (with a recent distress phrase) makes a possible emergency."""
        return self.fusion.holds(self._recent_phrase(t) is not None)

    def _undecided(self, cues: CuesEvent) -> bool:
        """Whether the hop lies ``quiet_wait_s`` or more into a silence of both parties' clear talk
        that is not yet known for a hold (the hold test has not decided: a hold's first seconds)."""
        wait = self.config.rules.possible_emergency.quiet_wait_s
        return (wait > 0 and cues.quiet_since is not None and cues.hold_since is None
                and cues.t - cues.quiet_since >= wait - EPS)

    def _judge_emergency(self, t: float, dt: float, undecided: bool = False) -> list[Event]:
        """Step ``possible_emergency``; while ``undecided`` (:meth:`_undecided`) it is not raised
        (one raised goes on)."""
        pe = self.config.rules.possible_emergency
        if not pe.enabled:
            return []
        agree = self._agreement(t) and not (undecided and not self._emergency.active)
        step = self._emergency.step(t, dt, agree)
        if step == "clear":
            # raised on a phrase and the same families still agree: only the phrase aged
            aged = self._emergency_by_phrase and len(self.fusion.agreeing()) >= pe.phrase_min_families
            return [AlertClearedEvent(t=t, kind="possible_emergency",
                                      reason="phrase_expired" if aged else "recovered")]
        if step != "raise":
            return []
        self._emergency_by_phrase = not self.fusion.acoustic()
        return [self._emergency_alert(t)]

    def _emergency_alert(self, t: float) -> AlertEvent:
        """The possible emergency's alert at call time ``t``: its message names what raised it, its
        evidence holds the families, their cues and the phrase behind it."""
        pe = self.config.rules.possible_emergency
        phrase = self._recent_phrase(t)
        raisers = self._emergency_raisers(pe)
        best = {f: c for f in raisers.shown if (c := self.fusion.cause(f)) is not None}
        accumulated = self.fusion.report()
        message = self._emergency_message(pe, raisers, best, phrase, accumulated)
        evidence = self._emergency_evidence(t, pe, raisers, best, phrase, accumulated)
        return AlertEvent(t=t, kind="possible_emergency", severity=pe.severity,
                          message=message, evidence=evidence, actions=self._actions(pe.severity))

    def _emergency_raisers(self, pe: EmergencyRuleConfig) -> _Raisers:
        """The families that raise the possible emergency now: those that agree, and when they are too
        few or too weak, the one family alone, else the families paired past their absolute limits."""
        fusion = self.fusion
        agree = fusion.agreeing()
        short = len(agree) < pe.min_families or fusion.score() < pe.min_score - EPS
        alone = fusion.alone() if short else None
        paired = fusion.paired() if short and alone is None else None
        extra = [alone] if alone is not None else list(paired or ())
        return _Raisers(agree, alone, paired, list(agree) + [f for f in extra if f not in agree])

    def _emergency_message(self, pe: EmergencyRuleConfig, raisers: _Raisers,
                           best: dict[str, tuple[str, Judgement, str]], phrase: _Phrase | None,
                           accumulated: dict[str, dict[str, Any]]) -> str:
        """The alert's message: the kinds behind the ``best`` cues, then what raised it (the phrase,
        one family alone, the pair held together, or the families' summed evidence)."""
        fusion, alone, paired, agree = self.fusion, raisers.alone, raisers.paired, raisers.agree
        labels = [kind_name(kind) for kind, _, _ in best.values()]
        what = (", ".join(labels[:-1]) + " and " + labels[-1]) if len(labels) > 1 else "".join(labels)
        message = f"Possible emergency: {what}" if what else "Possible emergency:"
        if phrase is not None and self._emergency_by_phrase:
            message += f"{' and ' if what else ' '}the caller said \"{phrase.excerpt}\""
        elif alone is not None:
            acc = accumulated.get(alone, {})
            message += (f" far beyond the caller's own baseline for {acc.get('held_s', 0.0):.0f} s "
                        f"(evidence {fusion.change[alone]:.1f}, one family raises it at "
                        f"{pe.single_family * pe.evidence_s:g})")
        elif paired is not None:
            message += (f" past {pe.paired_grade:g} of their absolute limits together for "
                        f"{fusion.paired_held:.0f} s")
        elif len(agree) > 1:
            message += f" agree (evidence {fusion.score():.1f}, raised at {pe.min_score:g})"
        return message

    def _emergency_evidence(self, t: float, pe: EmergencyRuleConfig, raisers: _Raisers,
                            best: dict[str, tuple[str, Judgement, str]], phrase: _Phrase | None,
                            accumulated: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """The alert's evidence: the score and the families' levels against their limits, what raised
        it, each cue with the span of the window it was judged on (the alert's own span holds them
        all), the phrase, and the span since the emergency was raised."""
        fusion, shown, paired = self.fusion, raisers.shown, raisers.paired
        cues = {kind: {**self._evidence(self.config.rules.rule(kind), j, t, t), "window": w}
                for kind, j, w in best.values()}
        return {
            "score": fusion.score(), "min_score": pe.min_score,
            "families": {f: round(fusion.level(f), 3) for f in shown},
            "count": len(raisers.agree), "min_families": pe.min_families,
            "single_family": raisers.alone,
            "paired": None if paired is None else {"families": {f: round(fusion.absolute[f], 3) for f in paired},
                                                   "held_s": fusion.paired_held, "paired_grade": pe.paired_grade},
            "accumulated": {f: accumulated[f] for f in shown if f in accumulated},
            "evidence_s": pe.evidence_s, "drift": pe.drift, "short_drift": pe.short_drift,
            "kinds": [kind for kind, _, _ in best.values()],
            "cues": cues,
            "phrase": None if phrase is None else {"t": phrase.t, "phrase": phrase.phrase,
                                                   "excerpt": phrase.excerpt, "since": phrase.since,
                                                   "until": phrase.t},
            "since": self._emergency.raised_since, "until": t,
            "unheard_s": self._unheard_s(self._emergency.raised_since or t, t),
            "window_s": max((c["window_s"] for c in cues.values() if c["window_s"] is not None),
                            default=self._window_s),
        }

    def _recent_phrase(self, t: float) -> _Phrase | None:
        p = self._phrase
        if p is None or t - p.t > self.config.rules.distress_phrase.escalate_within_s + EPS:
            return None
        return p

    # ------------------------------------------------------------------ phrases

    def on_phrase(self, t: float, phrase: str, excerpt: str, since: float | None = None) -> list[Event]:
        """The transcript matched ``phrase``, its last word ending at call time ``t`` (when the alert
        is raised: not before the words are heard); ``excerpt`` is what was said, its first word
        starting at ``since`` (None: ``t``). The evidence spans the words: ``since`` to ``t``."""
        cfg = self.config.rules.distress_phrase
        if not cfg.enabled:
            return []
        key = " ".join(phrase.lower().split())
        last = self._phrase_raised.get(key)
        out: list[Event] = []
        start = t if since is None else min(since, t)
        if last is None or abs(t - last) >= cfg.cooldown_s - EPS:
            self._phrase_raised[key] = t
            out.append(AlertEvent(
                t=t, kind="distress_phrase", severity=cfg.severity,
                message=f"Distress phrase: the caller said \"{excerpt}\"",
                evidence={"phrase": phrase, "excerpt": excerpt, "since": start, "until": t},
                actions=(self.config.actions.critical if cfg.severity == "critical"
                         else self.config.actions.distress_phrase)))
        self._phrase = _Phrase(t, phrase, excerpt, start)
        now = t if self._last_t is None else max(t, self._last_t)
        out.extend(self._judge_emergency(now, 0.0))
        return out

    # ------------------------------------------------------------------ end

    def close(self, t: float) -> list[Event]:
        """End of the call: every active alert ends with reason ``call_ended`` (acoustic kinds first)."""
        out: list[Event] = [AlertClearedEvent(t=t, kind=k, reason="call_ended")
                            for k, s in self._state.items() if s.active]
        if self._emergency.active:
            out.append(AlertClearedEvent(t=t, kind="possible_emergency", reason="call_ended"))
        for s in list(self._state.values()) + [self._emergency]:
            s.active, s.since, s.beyond_s, s.recovered_s = False, None, 0.0, None
        self._phrase = None
        return out
