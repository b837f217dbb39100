from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import keywords as keywords_io
from pipeline import transcript as transcript_io
from pipeline.catalogue import Catalogue
from pipeline.cli import main
from pipeline.keywords import KeywordOptions, ThemeModel, analyse, extract_keywords, term_index
from pipeline.plan import Project
from pipeline.runner import execute
from pipeline.sentences import sentences_of
from pipeline.settings import Settings
from pipeline.store import Store, atomic_write

from .conftest import ROOT

FIXTURE = Path(__file__).parent / "fixtures" / "transcript-sobriete-gouvernance.json"
FILLER_WORDS = {"euh", "voilà", "donc", "quoi", "coup", "fait", "bon", "ben", "alors"}


@pytest.fixture(scope="module")
def result(nlp, themes):
    transcript = transcript_io.load(FIXTURE)
    return extract_keywords(
        transcript, analyse(transcript, nlp), nlp, ThemeModel.build(nlp, themes), "Sobriété numérique et gouvernance des données"
    )


def by_surface(result):
    return {k.surface.lower(): k for k in result.keywords}


def test_expected_keywords_rank_high_under_the_right_theme(result):
    keywords = by_surface(result)
    top = [k.surface.lower() for k in result.keywords[:5]]
    assert "sobriété numérique" in top and "gouvernance des données" in top, top
    assert "sobriete" in keywords["sobriété numérique"].themes
    assert "gouvernance-publique" in keywords["gouvernance des données"].themes
    assert "sobriete" in keywords["centres de données"].themes
    assert "instrumentation-mesure" in keywords["capteurs"].themes
    assert "instrumentation-mesure" in keywords["interopérabilité des plateformes"].themes
    assert keywords["centres de données"].count == 2
    theme_lists = {t.theme_id: t.keywords for t in result.themes}
    assert keywords["sobriété numérique"].lemma in theme_lists["sobriete"]


def test_fillers_never_appear(result):
    for keyword in result.keywords:
        assert not set(keyword.surface.lower().split()) & FILLER_WORDS, keyword.surface
    assert not any("en fait" in c or "du coup" in c for c in result.candidates)


def test_occurrences_point_to_the_sentences_where_the_keyword_is_said(result):
    transcript = transcript_io.load(FIXTURE)
    keyword = by_surface(result)["gouvernance des données"]
    assert keyword.count == len(keyword.occurrences) == 6
    sentences = sentences_of(transcript)
    assert all("gouvernance des données" in sentences[o.sentence].text.lower() for o in keyword.occurrences)
    assert all((o.start, o.end) == (sentences[o.sentence].start, sentences[o.sentence].end) for o in keyword.occurrences)


def test_coverage_is_a_share_of_speech_time(result):
    coverage = {t.theme_id: t.coverage for t in result.themes}
    assert all(0.0 <= c <= 1.0 for c in coverage.values())
    # 217 words, two passages: the first on sobriety, the second on data (see test_filing)
    assert [p.theme for p in result.passages] == ["sobriete", "instrumentation-mesure"]
    assert result.themes[0].theme_id == "sobriete" and result.themes[0].share > 0.5
    assert sum(t.share for t in result.themes if not t.theme_id.startswith("axe-")) == pytest.approx(1.0, abs=0.01)
    assert coverage["ecosysteme-entreprises"] < 0.05


def test_extraction_is_deterministic_and_round_trips(nlp, themes, result):
    transcript = transcript_io.load(FIXTURE)
    again = extract_keywords(
        transcript, analyse(transcript, nlp), nlp, ThemeModel.build(nlp, themes), "Sobriété numérique et gouvernance des données"
    )
    assert keywords_io.dumps(again) == keywords_io.dumps(result)
    assert keywords_io.loads(keywords_io.dumps(result)) == result


def test_a_term_said_in_every_session_weighs_less(nlp, themes):
    transcript = transcript_io.load(FIXTURE)
    candidates = analyse(transcript, nlp)
    model = ThemeModel.build(nlp, themes)
    alone = extract_keywords(transcript, candidates, nlp, model, documents=1)
    lemma = next(k.lemma for k in alone.keywords if k.surface.lower() == "sobriété numérique")
    common = extract_keywords(transcript, candidates, nlp, model, document_frequency={lemma: 6}, documents=6)
    specific = extract_keywords(transcript, candidates, nlp, model, document_frequency={}, documents=6)
    score = {name: next(k.score for k in r.keywords if k.lemma == lemma) for name, r in (("common", common), ("specific", specific))}
    # the background prior (5 pseudo-documents) keeps some weight, so not a full factor 3
    assert score["common"] < 0.75 * score["specific"]


def test_stage_writes_outputs_and_a_rerun_loads_no_model(tmp_path: Path, nlp, themes):
    store = Store(tmp_path / "outputs")
    atomic_write(store.path("s-1", "transcript.json"), FIXTURE.read_bytes())
    loads = []

    def counting_loader():
        loads.append(1)
        return nlp

    project = Project(tmp_path, Catalogue(themes=themes), Settings(), store)
    first = execute(project, ("keywords",), load_nlp=counting_loader)
    assert [r.status for r in first.results] == ["keywords"]
    markdown = store.path("s-1", "keywords.md").read_text(encoding="utf-8")
    assert "### Sobriété" in markdown and "**sobriété numérique**" in markdown and "[00:" in markdown
    stored = keywords_io.loads(store.path("s-1", "keywords.json").read_text(encoding="utf-8"))
    assert stored.provenance["transcript_sha256"] == store.sha256("s-1", "transcript.json")
    second = execute(project, ("keywords",), load_nlp=counting_loader)
    assert [r.status for r in second.results] == ["up to date"] and len(loads) == 1


def test_cli_keywords_with_a_broken_theme_file_is_one_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "themes.toml").write_text('[[theme]]\nid = "sobriete"\nlabel = "Sobriété"\nterms = "énergie"\n', encoding="utf-8")
    status = main(["keywords", "--catalogue", str(tmp_path), "--outputs", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'themes.toml'}: line 4: theme #1, field 'terms': must be a list" in err


def test_cli_keywords_for_an_unknown_session_fails_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    status = main(["keywords", "nope", "--catalogue", str(ROOT / "recordings"), "--outputs", str(tmp_path)])
    assert status == 1
    assert "no transcript (run `pipeline transcribe` first)" in capsys.readouterr().err


def test_light_nouns_never_stand_alone_but_stay_inside_a_phrase(nlp):
    from pipeline.keywords import analyse

    from .test_speakers import transcript_of

    transcript = transcript_of(
        ["Merci pour cette invitation et bienvenue à cette séance.", "Le temps de parole est limité, faute de temps."]
    )
    found = analyse(transcript, nlp)
    assert not {"invitation", "bienvenue", "séance", "temps"} & set(found)
    assert any(lemma.startswith("temps de") for lemma in found), sorted(found)


def test_theme_terms_are_found_whole_as_editors_write_them(nlp, themes):
    """« gaz à effet de serre » (« effet » is a stop word), « empreinte environnementale »
    (lemmatised alone as « empreindre »), « start-up » (split at the hyphen), plurals: each
    term is a candidate where it is said, with its theme, and its pieces are not."""
    from pipeline.keywords import term_index

    from .test_speakers import transcript_of

    transcript = transcript_of(
        [
            "Les émissions de gaz à effet de serre du numérique pèsent lourd.",
            "Il faut mesurer l'empreinte environnementale des centres de données.",
            "Les start-up vendent leurs plateformes aux collectivités.",
            "La ville a subi des cyberattaques, dont un rançongiciel, et revoit sa sécurité.",
        ]
    )
    model = ThemeModel.build(nlp, themes)
    found = analyse(transcript, nlp, terms=term_index(themes))
    by_surface = {c.surface: c for c in found.values()}
    assert by_surface["gaz à effet de serre"].themes == ("sobriete",)
    assert by_surface["empreinte environnementale"].themes == ("sobriete",)
    assert by_surface["start-up"].themes == ("ecosysteme-entreprises",)
    assert by_surface["cyberattaques"].themes == ("vulnerabilites-numeriques",)
    assert "vulnerabilites-numeriques" in by_surface["rançongiciel"].themes
    assert not {"serre", "gaz", "start", "up", "effet"} & set(found), sorted(found)
    assert "émissions de gaz" not in by_surface, "a phrase that cuts a term in two"
    result = extract_keywords(transcript, found, nlp, model, "Cybersécurité et sobriété")
    # one passage of four sentences, filed under the theme it says most, the terms as evidence
    assert result.passages[0].theme == "sobriete"
    assert {"gaz à effet de serre", "empreinte environnementale"} <= set(result.passages[0].evidence)
    keyword = next(k for k in result.keywords if k.surface == "cyberattaques")
    assert "vulnerabilites-numeriques" in keyword.themes and "axe-risque" not in keyword.themes


def test_an_acronym_and_its_expansion_are_one_keyword(nlp):
    from .test_speakers import transcript_of

    transcript = transcript_of(
        [
            "Le salaire minimum interprofessionnel de croissance est revalorisé.",
            "Le SMIC sera revalorisé en janvier, le SMIC suit les prix.",
            "La smart city reste un slogan.",
        ]
    )
    found = analyse(transcript, nlp)
    merged = next(c for c in found.values() if c.surface.endswith("(SMIC)"))
    assert merged.surface == "salaire minimum interprofessionnel de croissance (SMIC)" and len(merged.occurrences) == 3
    assert "smic" not in found and "smart city" in {c.surface for c in found.values()}, "a borrowed word tagged X stays"
    apart = analyse(transcript, nlp, KeywordOptions(merge_abbreviations=False))
    assert "smic" in apart


def test_hyphenated_words_are_one_candidate_whole(nlp):
    """spaCy cuts « Hewlett-Packard », « Proche-Orient » and « start-ups » at the hyphen; the
    pipeline joins them back, so no piece (« Packard », « Orient ») becomes a keyword."""
    from .test_speakers import transcript_of

    transcript = transcript_of(
        [
            "Hewlett-Packard supprime des postes au Proche-Orient.",
            "Les start-ups travaillent le week-end, dit-il.",
            "Est-il possible de tout mesurer ?",
        ]
    )
    found = analyse(transcript, nlp)
    assert not [lemma for lemma in found if "est-il" in lemma], "spaCy keeps « Est-il » whole and tags it a noun"
    surfaces = {c.surface for c in found.values()}
    assert {"Hewlett-Packard", "Proche-Orient", "start-ups", "week-end"} <= surfaces, sorted(surfaces)
    assert "start-up" in found, "the plural's lemma is the singular"
    assert not {"packard", "orient", "hewlett", "start", "up", "end"} & set(found), sorted(found)


def test_a_name_said_short_joins_its_full_form_unless_two_full_forms_end_with_it(nlp):
    from .test_speakers import transcript_of

    transcript = transcript_of(
        [
            "Arnaud Montebourg défend la filière.",
            "Pour Montebourg, et pour M. Montebourg, la filière a un avenir.",
            "Serena Williams bat Venus Williams ; Williams gagne.",
        ]
    )
    found = analyse(transcript, nlp)
    assert len(found["arnaud montebourg"].occurrences) == 3 and "montebourg" not in found, sorted(found)
    assert "williams" in found, "« Williams » ends two full names: it stays apart"
    apart = analyse(transcript, nlp, KeywordOptions(merge_names=False))
    assert "montebourg" in apart


def test_clock_times_are_never_candidates(nlp):
    from .test_speakers import transcript_of

    found = analyse(transcript_of(["Le départ est donné à 13h02, le bateau rentre à 0h50 au port."]), nlp)
    assert "port" in found and not [lemma for lemma in found if "h0" in lemma or "h5" in lemma], sorted(found)


def test_words_every_theme_uses_bring_a_keyword_near_no_theme(nlp, themes):
    """« ville » and « données » are in the texts of most themes (« métiers de la ville »,
    « collecte de données »): by word vectors alone they used to join one theme and count
    every sentence that says them for it. Specific words still find their theme."""
    model = ThemeModel.build(nlp, themes)
    assert model.specificity["donnée"] < 0.3 and model.specificity["ville"] < 0.5
    assert model.specificity["cyberattaque"] == 1.0
    options = KeywordOptions()
    for generic in ("ville", "donnée", "numérique"):
        assert model.assign(nlp, generic, options.theme_similarity, options.theme_margin) == (), generic
    assert model.assign(nlp, "startup", options.theme_similarity, options.theme_margin) == ("ecosysteme-entreprises",)
    assert model.assign(nlp, "électricité", options.theme_similarity, options.theme_margin) == ("sobriete",)
    assert model.assign(nlp, "cybercriminalité", options.theme_similarity, options.theme_margin) == ("vulnerabilites-numeriques",)


def test_abstract_nouns_names_and_pieces_of_terms_join_no_theme_by_vectors(nlp, themes):
    """In spaCy's French vectors nouns in -ation sit close together (« préparation » to
    « mutualisation »), names sit near « État » and « Europe », and « étude » is half of
    « étude d'impact »: none of these is a theme's subject. « État » is a term of
    gouvernance only with its capital."""
    model = ThemeModel.build(nlp, themes)
    options = KeywordOptions()
    for word in ("préparation", "inflation", "publication", "étude", "ouverture", "fermeture"):
        assert model.assign(nlp, word, options.theme_similarity, options.theme_margin) == (), word
    assert model.assign(nlp, "france", options.theme_similarity, options.theme_margin, surface="France") == ()
    from .test_speakers import transcript_of

    found = analyse(transcript_of(["La route est en bon état.", "Le chef de l'État parle à l'Europe."]), nlp, terms=term_index(themes))
    assert found["état"].themes == () and [o.sentence for o in found["état"].occurrences] == [0]
    assert found["État"].themes == ("gouvernance-publique",) and found["État"].surface == "État"


def test_a_speakers_name_is_never_a_keyword_and_words_every_theme_uses_rank_low(nlp, themes):
    from .test_speakers import transcript_of

    transcript = transcript_of(
        [
            "Julien Moreau, chercheur, nous parle des données et des capteurs.",
            "Merci Julien Moreau. Les données, les données, toujours les données.",
            "Les capteurs mesurent la consommation des réseaux de chaleur, dit Moreau.",
        ]
    )
    found = analyse(transcript, nlp, terms=term_index(themes))
    model = ThemeModel.build(nlp, themes)
    plain = extract_keywords(transcript, found, nlp, model, "", options=KeywordOptions(series_words=0))
    result = extract_keywords(transcript, found, nlp, model, "", speakers=["Julien Moreau"])
    assert "julien moreau" in [k.lemma for k in plain.keywords]
    assert not [k for k in result.keywords if "moreau" in k.lemma], [k.surface for k in result.keywords]
    order = [k.lemma for k in result.keywords]
    before = [k.lemma for k in plain.keywords if k.lemma != "julien moreau"]
    assert before.index("donnée") < before.index("capteur"), "said most, first without the weight"
    assert order.index("capteur") < order.index("donnée"), order


def test_place_names_keep_their_article_and_names_their_capital(nlp):
    """« La Rochelle » is one name, never « Rochelle »; « Cisco » keeps its capital even where
    spaCy does not tag it a proper noun; an article that opens a sentence is not joined."""
    from .test_speakers import transcript_of

    transcript = transcript_of(
        [
            "La ville de La Rochelle a subi une cyberattaque, comme La Poste.",
            "Cisco vend des routeurs aux villes.",
            "La Rochelle a porté plainte.",
            "Les services sont revenus à La Rochelle.",
        ]
    )
    found = analyse(transcript, nlp)
    surfaces = {c.surface for c in found.values()}
    assert {"La Rochelle", "La Poste", "Cisco"} <= surfaces, sorted(surfaces)
    assert "rochelle" not in found and len(found["la rochelle"].occurrences) == 3, "« Rochelle » opening a sentence joins the name"


def test_a_keyword_whisper_was_unsure_of_ranks_below_one_it_heard_well(nlp):
    """Whisper's word probabilities travel with each sentence (``Sentence.heard``); a phrase
    whose words it doubted is most often a word it misheard (« uppanisme » for
    « urbanisme »), so its score is weighed by the lowest probability among its words, twice
    over for a word French does not know (« uppanisme ») than for one it does (« ville »)."""
    from dataclasses import replace

    from pipeline.sentences import sentences_of

    from .test_speakers import transcript_of

    transcript = transcript_of(["Les capteurs et l'uppanisme changent la ville.", "Les capteurs et l'uppanisme encore."])
    doubted = tuple(
        replace(s, words=tuple(replace(w, probability={"uppanisme": 0.2, "ville": 0.5}.get(w.word.strip(" .'l"), 0.95)) for w in s.words))
        for s in transcript.segments
    )
    transcript = replace(transcript, segments=doubted)
    sentence = sentences_of(transcript, heard=True)[0]
    assert sentences_of(transcript)[0].heard == (), "only the keywords ask for it"
    assert [(sentence.text[a:b], p) for a, b, p in sentence.heard][:3] == [("Les", 0.95), ("capteurs", 0.95), ("et", 0.95)]
    found = analyse(transcript, nlp)
    assert found["capteur"].heard == 0.95 and found["uppanisme"].heard == 0.2 and found["ville"].heard == 0.5
    model = ThemeModel.build(nlp, [])
    weighed = {k.lemma: k.score for k in extract_keywords(transcript, found, nlp, model, "").keywords}
    plain = {k.lemma: k.score for k in extract_keywords(transcript, found, nlp, model, "", options=KeywordOptions(heard_weight=0)).keywords}
    for word, factor in (("ville", 0.5), ("uppanisme", 0.2**2)):
        assert weighed[word] / weighed["capteur"] == pytest.approx(plain[word] / plain["capteur"] * factor / 0.95, rel=1e-3), word
    assert weighed["uppanisme"] < weighed["capteur"] / 5, weighed


def test_the_vector_space_drops_what_all_words_share(nlp):
    """All-but-the-top: projected vectors have unit length, no part along the removed
    directions, and two -ation nouns of unrelated meaning are no longer neighbours."""
    import numpy as np

    from pipeline.keywords.themes import VectorSpace, _cosine

    space = VectorSpace.of(nlp)
    raw = {w: nlp.vocab[w].vector.astype(np.float64) for w in ("mobilisation", "mutualisation", "capteur", "compteur")}
    projected = {w: space.project(v) for w, v in raw.items()}
    for vector in projected.values():
        assert abs(np.linalg.norm(vector) - 1) < 1e-9 and np.abs(space.top @ vector).max() < 1e-9
    assert _cosine(raw["mobilisation"], raw["mutualisation"]) > 0.8
    assert _cosine(projected["mobilisation"], projected["mutualisation"]) < 0.6
    assert _cosine(projected["capteur"], projected["compteur"]) > 0.3, "related words stay related"


def test_a_sentence_opening_adverb_is_never_a_keyword(nlp):
    """« Autrefois » and « Désolé » open a sentence with a capital and spaCy tags them as
    names; « au contraire » is a locution."""
    from .test_speakers import transcript_of

    found = analyse(
        transcript_of(["Autrefois, la mairie imprimait tout.", "Désolé, le réseau est coupé.", "Au contraire, le réseau tient."]), nlp
    )
    assert not {"autrefois", "désolé", "contraire"} & set(found), sorted(found)
    assert {"mairie", "réseau"} <= set(found), sorted(found)


def test_spellings_that_differ_by_a_hyphen_or_a_space_are_one_keyword(nlp):
    from .test_speakers import transcript_of

    found = analyse(
        transcript_of(["Une startup et une start-up.", "Les start-up vendent aux villes.", "Une cyber-attaque, puis une cyberattaque."]),
        nlp,
    )
    starts = [c for c in found.values() if c.lemma.replace("-", "") == "startup"]
    assert len(starts) == 1 and starts[0].surface == "start-up" and len(starts[0].occurrences) == 3, starts
    attacks = [c for c in found.values() if c.lemma.replace("-", "") == "cyberattaque"]
    assert len(attacks) == 1 and len(attacks[0].occurrences) == 2, attacks
