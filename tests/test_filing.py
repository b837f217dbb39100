"""Filing passages under themes: the lexicon, the fitted layer, the threshold, what readers see."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import pytest

from pipeline import keywords as keywords_io
from pipeline.catalogue import Session, Theme
from pipeline.keywords import FilingWeights, KeywordOptions, ThemeLexicon, ThemeModel, analyse_session, extract_keywords, tokens_of
from pipeline.keywords.filing import NO_THEME, PASSAGE_WORDS, passages_of
from pipeline.synthesis import shown_themes, synthesize

from .test_speakers import transcript_of

SOBRIETY = [
    "Les centres de données consomment une part croissante de l'électricité du pays.",
    "Leur refroidissement demande beaucoup d'énergie et d'eau, surtout l'été.",
    "La fabrication des terminaux, des smartphones et des ordinateurs pèse plus encore dans l'empreinte carbone.",
    "Le réemploi, la réparation et le reconditionnement allongent la durée de vie des équipements.",
    "Les émissions de gaz à effet de serre du numérique pourraient tripler d'ici 2050 sans politique de sobriété.",
    "L'écoconception des services numériques réduit la bande passante et le stockage inutiles.",
    "Une ville peut mesurer la consommation énergétique de ses serveurs et choisir un hébergement alimenté par des énergies renouvelables.",
    "La chaleur fatale des centres de données peut aussi chauffer un réseau de chaleur de quartier.",
]
CYBER = [
    "La mairie a subi une cyberattaque par rançongiciel la semaine dernière.",
    "Les pirates ont chiffré les serveurs et demandé une rançon pour rendre les fichiers.",
    "La cybersécurité des petites communes reste faible : peu d'agents formés, des sauvegardes rares.",
    "L'ANSSI recommande des exercices de crise et une sensibilisation de tous les agents au hameçonnage.",
    "Une faille non corrigée suffit à une intrusion dans le système d'information.",
    "Les menaces visent aussi les hôpitaux, et la cybercriminalité se professionnalise.",
    "La sécurité informatique doit être pensée dès l'achat des logiciels, avec des plans de continuité.",
    "Après l'attaque, les services ont fonctionné sur papier pendant trois semaines.",
]
COOKING = [
    "Pour la pâte, mélangez la farine, le beurre mou et une pincée de sel du bout des doigts.",
    "Ajoutez un œuf et un peu d'eau froide, puis formez une boule sans trop la travailler.",
    "Laissez reposer la pâte une heure au frais, enveloppée dans un torchon.",
    "Épluchez les pommes, coupez-les en fines lamelles et citronnez-les pour qu'elles ne noircissent pas.",
    "Étalez la pâte au rouleau et garnissez le moule beurré.",
    "Disposez les lamelles en rosace, saupoudrez de sucre et de cannelle.",
    "Enfournez quarante minutes à cent quatre-vingts degrés, jusqu'à ce que les bords dorent.",
    "Servez la tarte tiède, avec une boule de glace à la vanille ou un peu de crème fraîche.",
]


def filed(nlp, themes, lines, weights=None, options=None):
    transcript = transcript_of(lines)
    model = ThemeModel.build(nlp, themes, weights)
    analysis = analyse_session(transcript, nlp)
    return extract_keywords(transcript, analysis.candidates, nlp, model, "", options=options, words=analysis.words)


def test_a_passage_on_one_theme_is_filed_under_it_with_its_words_as_evidence(nlp, themes):
    result = filed(nlp, themes, SOBRIETY * 2)
    assert result.passages and all(p.theme == "sobriete" for p in result.passages)
    assert all(p.probabilities["sobriete"] >= 0.5 for p in result.passages)
    assert "centre de données" in result.passages[0].evidence
    first = result.themes[0]
    assert first.theme_id == "sobriete" and first.share == 1.0 and first.coverage > 0.5


def test_an_off_topic_passage_gets_no_theme_and_the_draft_shows_none(nlp, themes):
    result = filed(nlp, themes, COOKING * 2)
    assert result.passages and not any(p.theme for p in result.passages)
    assert all(p.probabilities[NO_THEME] > max(v for k, v in p.probabilities.items() if k != NO_THEME) for p in result.passages)
    assert shown_themes(result, themes) == []
    transcript = transcript_of(COOKING * 2)
    draft = synthesize(transcript, result, Session(id="s", title="Cuisine", recording="s.mp3"), themes)
    assert draft.front_matter["themes"] == []
    assert "### " not in draft.markdown.split("## Thèmes abordés")[1].split("## Chapitres")[0]


def test_each_part_of_a_session_is_filed_apart_and_shares_follow_speech_time(nlp, themes):
    result = filed(nlp, themes, SOBRIETY * 3 + CYBER * 3 + COOKING * 3)
    by_theme = {t.theme_id: t for t in result.themes}
    themes_in_order = [p.theme for p in result.passages]
    assert themes_in_order[0] == "sobriete" and themes_in_order[-1] == ""
    assert set(themes_in_order) == {"sobriete", "vulnerabilites-numeriques", ""}
    assert themes_in_order == sorted(themes_in_order, key=["sobriete", "vulnerabilites-numeriques", ""].index)  # in the order said
    assert by_theme["sobriete"].share == pytest.approx(1 / 3, abs=0.12)
    assert by_theme["vulnerabilites-numeriques"].share == pytest.approx(1 / 3, abs=0.12)
    assert by_theme["ecosysteme-entreprises"].share == 0.0
    assert sum(t.coverage for t in result.themes if t.theme_id in by_theme and not t.theme_id.startswith("axe-")) <= 1.0
    assert [t.theme_id for t in result.themes[:2]] in (
        ["sobriete", "vulnerabilites-numeriques"],
        ["vulnerabilites-numeriques", "sobriete"],
    )
    markdown = keywords_io.to_markdown(result, "Séance", themes)
    assert "Passages classés sous ce thème" in markdown and "## Passages sans thème" in markdown
    assert keywords_io.loads(keywords_io.dumps(result)) == result


def test_below_the_confidence_threshold_a_passage_has_no_theme(nlp, themes):
    result = filed(nlp, themes, SOBRIETY * 2, options=KeywordOptions(theme_confidence=1.0))
    assert not any(p.theme for p in result.passages)
    assert all(t.share == 0.0 for t in result.themes if not t.theme_id.startswith("axe-"))
    assert result.themes[0].theme_id == "sobriete"  # still ranked first by its probability


def test_a_theme_an_editor_adds_is_filed_by_its_vocabulary_alone(nlp, themes):
    cooking = Theme(
        id="cuisine",
        label="Cuisine",
        description="",
        vocabulary=("pâte", "farine", "beurre", "four", "enfourner", "tarte", "sucre", "moule", "recette", "cannelle"),
    )
    result = filed(nlp, [*themes, cooking], COOKING * 2)
    assert result.passages and all(p.theme == "cuisine" for p in result.passages)


def test_a_capitalised_entry_matches_only_with_its_capital(nlp, themes):
    lexicon = ThemeLexicon.build(nlp, themes)
    state = next(i for i, e in enumerate(lexicon.entries) if e.text == "État")
    assert lexicon.said(tokens_of(nlp("Le chef de l'État a parlé."))).get(state) == 1
    assert lexicon.said(tokens_of(nlp("La route est en bon état."))).get(state) is None


def test_an_entry_is_found_by_lemma_and_by_form(nlp, themes):
    lexicon = ThemeLexicon.build(nlp, themes)
    entry = next(i for i, e in enumerate(lexicon.entries) if e.text == "centre de données")
    assert lexicon.said(tokens_of(nlp("Les centres de données et le centre de données municipal."))).get(entry) == 2


def test_words_every_theme_holds_weigh_less_than_words_of_one_theme(nlp):
    shared = [Theme(id=f"t{i}", label=f"T{i}", description="", vocabulary=("commun", f"propre{i}")) for i in range(3)]
    lexicon = ThemeLexicon.build(nlp, shared)
    weight = {e.text: e.weight for e in lexicon.entries}
    assert weight["propre0"] == 1.0 and 0 < weight["commun"] < 0.2


def test_the_shipped_weights_know_every_theme_and_none():
    weights = FilingWeights.fitted()
    assert {"sobriete", "societes-urbaines", NO_THEME} <= set(weights.bias)
    assert weights.density > 0 and weights.count > 0 and "themes-fr-dev" in weights.fitted_on
    assert FilingWeights(**{**weights.__dict__}).to_json() == weights.to_json()
    probabilities = weights.probabilities({"sobriete": (0.0, 0.0), "cuisine": (5.0, 3.0)})
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert max(probabilities, key=probabilities.__getitem__) == "cuisine"


def test_passages_are_runs_of_whole_sentences_and_a_short_tail_joins_the_last(nlp):
    transcript = transcript_of(SOBRIETY * 3)
    from pipeline.sentences import sentences_of

    sentences = sentences_of(transcript)
    words = [tokens_of(doc) for doc in nlp.pipe([s.text for s in sentences])]
    runs = passages_of(sentences, words)
    assert runs[0][0] == 0 and runs[-1][1] == len(sentences) - 1
    assert all(a[1] + 1 == b[0] for a, b in pairwise(runs))
    assert all(sum(len(w) for w in words[a : b + 1]) >= PASSAGE_WORDS / 2 for a, b in runs)
    assert passages_of(sentences[:2], words[:2]) == [(0, 1)]


def test_without_a_lexicon_nothing_is_filed(nlp, themes):
    transcript = transcript_of(SOBRIETY)
    model = replace(ThemeModel.build(nlp, themes), lexicon=None)
    analysis = analyse_session(transcript, nlp)
    result = extract_keywords(transcript, analysis.candidates, nlp, model, "", words=analysis.words)
    assert result.passages == () and all(t.share == 0.0 for t in result.themes if not t.theme_id.startswith("axe-"))
