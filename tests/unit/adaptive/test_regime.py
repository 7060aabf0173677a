from engine.core.adaptive.regime import CALM, CHOPPY, RegimeConfig, RegimeDetector

CFG = RegimeConfig(window_s=600, min_sample=10, choppy_above=0.35, calm_below=0.25, z_margin=0.0)


def feed(det, flips, start=0.0, step=10.0):
    changes = []
    for i, f in enumerate(flips):
        det.observe(start + i * step, f)
        change = det.update(start + i * step)
        if change:
            changes.append(change)
    return changes


def test_turns_choppy_above_the_threshold_and_halves_stakes():
    det = RegimeDetector(CFG)
    changes = feed(det, [True, False] * 10)
    assert [c.regime for c in changes] == [CHOPPY]
    assert det.stake_factor == 0.5


def test_hysteresis_holds_choppy_between_the_thresholds():
    det = RegimeDetector(CFG, regime=CHOPPY)
    assert feed(det, [True] * 3 + [False] * 7) == []  # 0.30: between calm_below and choppy_above
    changes = feed(det, [False] * 30, start=200.0)
    assert [c.regime for c in changes] == [CALM]
    assert det.stake_factor == 1.0


def test_not_enough_marks_holds_the_regime():
    det = RegimeDetector(CFG)
    assert feed(det, [True] * 9) == []


def test_z_margin_needs_evidence_not_a_few_unlucky_marks():
    strict = RegimeDetector(RegimeConfig(window_s=600, min_sample=10, z_margin=1.5))
    assert feed(strict, [True] * 5 + [False] * 5) == []  # 0.5 - 1.5 x 0.158 = 0.26
    assert [c.regime for c in feed(strict, [True] * 40, start=100.0)] == [CHOPPY]


def test_old_marks_leave_the_window():
    det = RegimeDetector(CFG)
    det.observe(0.0, True)
    det.update(601.0)
    assert det.sample == 0
