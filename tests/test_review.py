"""The review report flags what an editor should check, in audio order, linked to its moment."""

from __future__ import annotations

from dataclasses import replace

from pipeline.review import flagged_share, review, to_markdown
from pipeline.transcript import Correction, Quality, Span

from .test_speakers import transcript_of


def test_each_kind_of_doubt_is_flagged_where_it_is():
    transcript = transcript_of(
        [
            "Bonjour, je suis avec Marc Dubreuil et la DINUM.",  # a name and an acronym not in the catalogue
            "Le budget est de 12 millions pour 2024.",  # numbers
            "merci merci merci merci beaucoup",  # a loop
            "Camille Durand parle de sobriété.",  # known: nothing
        ]
    )
    segments = list(transcript.segments)
    words = list(segments[3].words)
    words[4] = replace(words[4], probability=0.2)  # « sobriété. » doubtful
    segments[3] = replace(segments[3], words=tuple(words))
    segments[2] = replace(segments[2], no_speech_prob=0.9)
    transcript = replace(
        transcript,
        segments=tuple(segments),
        quality=Quality(3, (), (Span(20.0, 23.0, "guard"),)),
        corrections=(Correction(1.0, 2.0, "eric", "Éric", "spelling"), Correction(2.0, 3.0, "a", "b", "editor")),
    )
    flags = review(transcript, ["Camille Durand"])
    found = [(f.kind, f.text) for f in flags]
    assert ("name", "Marc") in found and ("name", "Dubreuil") in found and ("name", "DINUM") in found
    assert ("name", "Bonjour,") not in found and not any(k == "name" and "Camille" in t for k, t in found)
    assert ("number", "12 millions") in found and ("number", "2024.") in found
    assert ("loop", "merci merci merci merci") in found
    assert ("no-speech", "merci merci merci merci beaucoup") in found
    assert any(k == "doubt" and t.endswith("sobriété.") for k, t in found), "the doubt model reads the word in its context"
    assert ("lost", "") in found
    assert ("replaced", "eric → Éric") in found and not any(t == "a → b" for _, t in found), "an editor's own edits are not flagged"
    assert [f.start for f in flags] == sorted(f.start for f in flags)
    assert 0 < flagged_share(transcript, flags) < 1

    report = to_markdown(transcript, flags, "Séance 1", "../site/sessions/s/index.html")
    assert report.startswith("# À relire : Séance 1\n")
    assert "(../site/sessions/s/index.html#t=14) mots incertains" in report and "sobriété. »" in report


def test_a_clean_transcript_has_nothing_to_check():
    transcript = transcript_of(["Camille Durand parle de sobriété numérique."])
    assert review(transcript, ["Camille Durand"]) == ()
    assert "Rien à signaler." in to_markdown(transcript, (), "S", "x")


def test_the_doubt_model_reads_whisper_s_probability_in_context():
    from pipeline import doubt

    sure = transcript_of(["Les capteurs de la ville mesurent la qualité de l'air."])
    words = list(sure.segments[0].words)
    words[2] = replace(words[2], probability=0.05)  # « de » barely heard
    unsure = replace(sure, segments=(replace(sure.segments[0], words=tuple(words)),))
    model = doubt.shipped()
    written, features = doubt.written_words(unsure)
    assert features.shape == (len(written), len(doubt.FEATURES)) and [w.text for w in written][:3] == ["Les", "capteurs", "de"]
    assert features[1, doubt.FEATURES.index("next_probability")] == 0.05 and features[2, doubt.FEATURES.index("characters")] == 2
    risk = model.probabilities(features)
    before = model.probabilities(doubt.written_words(sure)[1])
    assert ((0 <= risk) & (risk <= 1)).all() and risk[2] > before[2] and risk[2] >= model.bound > before[2]
    assert model.probabilities(features[:0]).shape == (0,)


def test_a_doubt_model_fitted_on_other_features_is_refused():
    import json

    import pytest

    from pipeline import doubt

    body = json.loads(doubt.shipped().to_json())
    assert doubt.DoubtModel.from_json(json.dumps(body)) == doubt.shipped()
    body["features"] = body["features"][:-1]
    with pytest.raises(ValueError, match="review_layer.py --write"):
        doubt.DoubtModel.from_json(json.dumps(body))


def test_the_exported_trees_predict_what_scikit_learn_predicts():
    import numpy as np
    import pytest

    pytest.importorskip("sklearn")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from review_layer import DOUBT_SHARE, fit

    rng = np.random.default_rng(0)
    features = rng.random((600, 17))
    wrong = (features[:, 0] + 0.3 * rng.random(600) < 0.4).astype(float)  # wrong when Whisper's probability is low
    model = fit(features, wrong)  # fit() asserts the exported trees agree with predict_proba
    flagged = model.probabilities(features) >= model.bound
    assert abs(flagged.mean() - DOUBT_SHARE) < 0.02 and wrong[flagged].mean() > 0.9
