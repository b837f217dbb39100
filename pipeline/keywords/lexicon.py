"""French word lists: what never becomes a keyword of a talk."""

from __future__ import annotations

# Oral fillers, discourse markers and words too general to be keywords in a talk.
FILLERS = frozenset(
    """euh heu hum bah ben bon voilà donc quoi hein genre truc trucs machin chose choses
    fait coup enfin alors bref disons ouais oui non merci bonjour bonsoir accord
    effectivement justement évidemment finalement vraiment simplement
    fois façon manière moment exemple question questions niveau sens point cas idée
    monsieur madame gens personne personnes part""".split()
)
# Adverbs and interjections that open a sentence (« Autrefois, … », « Désolé, … »): with the
# capital every sentence gives its first word, spaCy often tags them as names or nouns.
SENTENCE_ADVERBS = frozenset(
    """autrefois désormais dorénavant cependant pourtant toutefois néanmoins ainsi ensuite puis
    aussi certes surtout notamment actuellement présentement également autrement sinon
    heureusement malheureusement désolé désolée désolés désolées pardon hélas""".split()
)
# Nouns that mostly live inside prepositional locutions (« face à », « dans le cadre de »,
# « au sein de », « l'ensemble de ») and carry no topic of their own.
LOCUTION_NOUNS = frozenset(
    """face cadre cours sein lieu suite propos raison ensemble charge espèce sorte travers
    biais côté égard vue titre moyen compte partie nombre plupart reste total contraire""".split()
)
# Time words: a date or a weekday is never a keyword of a talk.
TIME_WORDS = frozenset(
    """janvier février mars avril mai juin juillet août septembre octobre novembre décembre
    lundi mardi mercredi jeudi vendredi samedi dimanche jour jours semaine semaines mois an ans
    année années heure heures minute minutes seconde secondes nuit matin soir soirée hier demain
    aujourd'hui date""".split()
)
# Light nouns: they never stand alone as a keyword of a talk (« recours », « occasion »,
# « temps »), nor do the words of the webinar's own format (« séance », « échange »); inside a
# longer phrase they stay (« temps de parole », « séance plénière »).
LIGHT_NOUNS = frozenset(
    """recours occasion temps alentours bienvenue début fin aspect élément type domaine rapport
    terme sujet thème séance webinaire échange discussion présentation intervention invitation
    remerciement possibilité besoin problème chose""".split()
)
# Multi-word discourse markers, matched on lower-cased surface text.
FILLER_PHRASES = ("en fait", "du coup", "c'est-à-dire", "tout à fait", "d'accord", "par exemple", "en tout cas")
