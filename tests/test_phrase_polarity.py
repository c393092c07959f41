"""Distress said and distress denied: what a caller in trouble says is found, whatever negation
comes near it, and what a caller says to deny trouble is not (English, the default list).

The recognizer writes no punctuation: "no, call an ambulance" arrives as "no call an ambulance",
and "i'm not sure, chest pain" as "i'm not sure chest pain". A missed cry for help costs more than
a false alarm, so where the words alone cannot tell (a negation before a pause, or in an earlier
utterance) the phrase is found.
"""

from __future__ import annotations

import pytest

from monitor.events import Word, WordsEvent
from monitor.transcription.phrases import PhraseSpotter

AFFIRMED: list[tuple[str, str]] = [
    # "no" answering a question, then a call for help or a complaint
    ("no call an ambulance", "call an ambulance"),
    # how the caller breathes after the phrase is no idiom: "not breathing hard" is not told from these
    ("i am having trouble breathing fast", "trouble breathing"),
    # an idiom's continuation is a support call's words, never one a caller in trouble goes on with
    ("i'm dying to get to a hospital", "i'm dying"),
    ("i'm dying to get some air", "i'm dying"),
    ("i feel like i'm dying to have this pain stop", "i'm dying"),
    ("the room is spinning from all these pills", "the room is spinning"),
    ("the room is spinning with all the lights on", "the room is spinning"),
    ("the room is spinning from all the medication", "the room is spinning"),
    ("i have difficulty breathing heavily", "difficulty breathing"),
    ("no please call an ambulance", "call an ambulance"),
    ("no wait call an ambulance", "call an ambulance"),
    ("no i need an ambulance", "i need an ambulance"),
    ("no and my chest hurts", "my chest hurts"),
    ("no my chest is tight", "my chest is tight"),
    ("no no i can't breathe", "i can't breathe"),
    ("no no i cant breathe", "i can't breathe"),
    ("no no i can not breathe", "i can't breathe"),
    # a negation that has its own object before the phrase
    ("i don't know i can't breathe", "i can't breathe"),
    ("i can't breathe call an ambulance", "call an ambulance"),
    ("i can't stand up chest pain", "chest pain"),
    ("i can't talk chest pain", "chest pain"),
    ("i don't feel well chest pain", "chest pain"),
    ("i'm not sure chest pain", "chest pain"),
    ("not good i can't breathe", "i can't breathe"),
    ("not really chest pain", "chest pain"),
    ("not really short of breath", "short of breath"),
    ("no i'm not okay my chest hurts", "my chest hurts"),
    ("i'm not okay i'm dizzy", "i'm dizzy"),
    ("don't hang up i can't breathe", "i can't breathe"),
    ("i don't think so i'm passing out", "i'm passing out"),
    ("it's not stopping my chest feels tight", "my chest feels tight"),
    ("nothing helps i can't catch my breath", "i can't catch my breath"),
    ("i can't breathe i'm not joking", "i can't breathe"),
    # a first time: "never ... before", "... like this", "... until now"
    ("i never had chest pain before but now i do", "chest pain"),
    ("i've never had chest pain like this", "chest pain"),
    ("i never had chest pain until now", "chest pain"),
    ("i didn't have chest pain before", "chest pain"),
    ("i've never had chest pain this bad", "chest pain"),
    ("i've never felt pain in my chest this bad", "pain in my chest"),
    ("i never had chest pain so bad", "chest pain"),
    ("i've never had chest pain this much", "chest pain"),
    # a phrase followed by a function word that an idiom may start, and a complaint does too
    ("i'm passing out the pain is too much", "i'm passing out"),
    ("i think i'm going to pass out the pain is unbearable", "going to pass out"),
    ("i'm passing out these pills are not working", "i'm passing out"),
    ("i'm dying for real", "i'm dying"),
    ("i'm dying to be honest", "i'm dying"),
    ("i'm dizzy with pain", "i'm dizzy"),
    ("i can't breathe easy", "i can't breathe"),
    # an idiom early in the text, the phrase itself later
    ("i'm dying to know but really i'm dying", "i'm dying"),
    ("i'm passing out the forms oh god i'm passing out", "i'm passing out"),
    # help asked for with what is wrong, and a call for help told of
    ("please help me with my husband he collapsed", "please help me"),
    ("somebody help me get up", "somebody help me"),
    ("please help me to breathe", "please help me"),
    ("i need a doctor now", "i need a doctor"),
    ("i'm blacking out time is passing", "i'm blacking out"),
    ("i called for help nobody came", "call for help"),
    ("call for help now", "call for help"),
    # recognition slips that are no negation
    ("can't breathe", "i can't breathe"),
    ("i cant breathe", "i can't breathe"),
    ("i can not breathe", "i can't breathe"),
    # a word that only says how much heard for another
    ("i can't get any air", "i can't get enough air"),
    ("i cannot get any air in", "i can't get enough air"),
    ("i can't get much air in", "i can't get enough air"),
    # the heart, wheezing
    ("my heart is racing", "my heart is racing"),
    ("my heart's racing so fast", "my heart is racing"),
    ("i'm wheezing", "i'm wheezing"),
    ("i'm gasping for a breath", "gasping for breath"),
    ("he is gasping for breath", "gasping for breath"),
    # an idiom's continuation is never a function word alone: these are still distress
    ("i can't get enough air on my oxygen", "i can't get enough air"),
    ("he's gasping for air on the floor", "gasping for air"),
    # phrases that carry their own negation ("unable" is "not able")
    ("i'm not able to breathe", "not able to breathe"),
    ("i am unable to breathe", "not able to breathe"),
    ("i'm unable to breathe", "not able to breathe"),
    ("he's not breathing", "not breathing"),
    ("she isn't breathing", "not breathing"),
    ("he's not breathing right", "not breathing"),
    ("i'm about to pass out", "about to pass out"),
    # "dizzy" alone: said with any words before it
    ("i'm getting really dizzy", "dizzy"),
    ("feeling a bit dizzy", "dizzy"),
    ("i've never been this dizzy", "dizzy"),
    ("my head is spinning", "my head is spinning"),
    ("my heads spinning", "my head is spinning"),
    ("my head is spinning from the pills", "my head is spinning"),
    ("the rooms spinning", "the room is spinning"),
    # a caller in trouble on a support call, as the recognizer writes it
    ("i can't breathe please help", "i can't breathe"),
    ("my chest is really tight", "my chest is tight"),
    ("i'm having chest pains", "chest pain"),
    ("i think i'm having a heart attack", "heart attack"),
    ("i feel really dizzy", "dizzy"),
    ("i can't feel my left arm", "i can't feel my arm"),
    ("my left arm is numb", "my arm is numb"),
    ("i'm gonna pass out", "going to pass out"),
    ("there's a lot of pressure in my chest", "pressure in my chest"),
    ("please send an ambulance", "i need an ambulance"),
    ("my wife collapsed call nine one one", "call nine one one"),
    ("i feel like i'm dying", "i'm dying"),
    ("i can't get my breath", "i can't breathe"),
    ("i can hardly breath", "i can hardly breathe"),
    ("she can't breathe", "i can't breathe"),
    ("my husband is not breathing", "not breathing"),
    ("i'm feeling faint", "i feel faint"),
    ("get me an ambulance", "call an ambulance"),
    ("i think i'm having a stroke", "having a stroke"),
    ("i'm struggling to breathe here", "struggling to breathe"),
    ("i don't know what's happening my chest hurts", "my chest hurts"),
    ("i can't stop coughing i can't breathe", "i can't breathe"),
    ("hello hello i need an ambulance", "i need an ambulance"),
    ("i'm gasping for air", "gasping for air"),
    ("he's gasping for air", "gasping for air"),
    # a device said near a phrase that opens with "i", the caller still its subject
    ("hold on my phone i'm blacking out", "i'm blacking out"),
    ("i'm on the phone can't breathe", "i can't breathe"),
    ("he's blacking out", "i'm blacking out"),
    # a negation of the breathing itself, however it is said of someone else
    ("he is not breathing", "not breathing"),
    ("my mom is not breathing", "not breathing"),
    ("he's not really breathing", "not breathing"),
    ("he's stopped breathing", "stopped breathing"),
    ("my mom stopped breathing", "stopped breathing"),
    # "no" before a stop answers a question ("is he breathing? no, stopped breathing")
    ("no stopped breathing", "stopped breathing"),
    ("is he breathing no stopped breathing", "stopped breathing"),
]

DENIED: list[str] = [
    "i can breathe fine now",
    "i can breathe",
    "i can catch my breath now",
    "no chest pain",
    "my heart isn't racing",
    "i'm not wheezing anymore",
    "i have no chest pain",
    "i don't have chest pain",
    "i do not have any chest pain",
    "i haven't got chest pain",
    "i never had chest pain",
    "i can walk without chest pain",
    "there is no pressure in my chest",
    "there's no pain in my chest",
    "i don't have any pain in my chest",
    "i'm not out of breath",
    "i'm not short of breath anymore",
    "i wasn't short of breath",
    "no trouble breathing",
    "it's not hard to breathe",
    "i'm not struggling to breathe",
    "my chest does not hurt",
    "my chest doesn't hurt",
    "my chest isn't tight",
    "my arm isn't numb",
    "i'm not dizzy",
    "i don't feel dizzy",
    "i'm not feeling dizzy",
    "i don't feel faint",
    "i'm not going to faint",
    "i'm not passing out",
    "it's not a heart attack",
    "i'm not having a heart attack",
    "i don't need an ambulance",
    "don't call an ambulance",
    "no don't call an ambulance",
    "no need to call an ambulance",
    "you don't have to call an ambulance",
    "i don't need a doctor",
    "i'm not dying",
    "i can move my arm",
    "i'm able to breathe",
    "i'm able to breathe now",
    "i'm not gasping for air",
    "no i'm not dizzy anymore",
    "i'm breathing fine",
    "i'm able to breathe now thanks",
    "i don't have trouble breathing",
    # a negation reaches over any number of words such as have, any, more, kind, really
    "i don't have any more chest pain",
    "i don't have any kind of chest pain",
    "i don't really have chest pain",
    "i'm not really short of breath",
    "i do not have any sort of pain in my chest",
    "no longer short of breath",
    "i'm no longer dizzy",
    # a negation of a stop, or of a faint, is no distress: the breathing goes on
    "my mom has not stopped breathing",
    "he hasn't stopped breathing",
    "he has not stopped breathing",
    "she hasn't quit breathing",
    "i can't stop breathing heavily",
    "he never stopped breathing",
    "she never fainted",
    "he hasn't fainted",
]

SUPPORT: list[str] = [
    "i'm having difficulty billing my customers",
    "we have difficulty bidding on the item",
    # a phrase's key word replaced by another: the rest of the phrase is ordinary speech
    "i can't move my appointment",
    "i can't move my account",
    "i can't get enough signal",
    "i can't get enough data",
    "i can't catch my bus",
    "i can't catch my train",
    "i can't feel my phone vibrate",
    "i need a document",
    "can you call an agent",
    "my arm is fine",
    "my arm is okay now",
    "my arm is better",
    "my alarm is on",
    # idioms
    "i'm dying to know",
    "i'm dying for a coffee",
    "i'm passing out flyers",
    "i'm passing out the leaflets",
    "i'm blacking out the names",
    "i'm backing out of the contract",
    "i'm passing out the forms",
    "i'm passing out these flyers",
    "i'm dying to see it",
    "i'm about to pass out the forms",
    "the page is spinning",
    "my wheel is spinning",
    "my disk is spinning",
    "i can't get any air miles on my card",
    "i can't get enough air time",
    "my card is pending",
    "my heart is set on this plan",
    "my heart is racing with excitement",
    "i'm freezing in here",
    "i'm wearing a headset",
    "i'm wheeling the bins out",
    "my head is pounding",
    "i can't get the air conditioner to turn on",
    "i'm dying to get this fixed",
    "i'm having a stroke of luck",
    "i'm calling about an ambulance bill",
    "i need an ambulance invoice",
    "i need a doctor's signature",
    "i can't breathe easy until this is fixed",
    "i'm not breathing a word of it",
    "he's not breathing down my neck",
    "i'm unable to breathe life into this",
    "my head is spinning with all these charges",
    "i'm not able to breach the contract",
    "i'm having trouble bringing up my account",
    "he's not bringing it back",
    "my chest of drawers arrived broken",
    "i'm short of cash this month",
    "i can't catch the last train",
    "i can't move my booking",
    "i can't get enough bars",
    "it's hard to read the screen",
    "i'm having trouble logging in",
    "my battery is dying",
    # a device in the place of the phrase's "i"
    "the screen is blacking out",
    "the screen's blacking out",
    "my phone keeps blacking out",
    "my tv keeps blacking out",
    "i'm dizzy with excitement",
    "i feel dizzy with joy",
]

SUPPORT_REQUESTS: list[str] = [
    # what a caller to a support line asks, within the tolerance of a phrase
    "please help me with my password",
    "can somebody help me with the router",
    "could you please help me reset my account",
    "please help me understand this bill",
    "please help me to set up the app",
    "somebody help me figure out this form",
    "i need a doctor's note for work",
    "i need a doctor appointment",
    "i need a doctor's appointment next week",
    "i'm going to pass on that",
    "i'm about to pass on that",
    "i'm unable to login",
    "i'm not able to log in",
    "i'm going to pass up the offer",
    "i'm going to pass out the paperwork",
    "i'm blocking out time for this",
    "i'm feeling light hearted today",
    "i'm feeling lighthearted today",
    "call for help desk",
    "i'll call the help desk",
    "i called the help line yesterday",
    "i'm going to pass on the upgrade",
    "i'm about to give up on this app",
    "i'm not able to pay online",
    "somebody help me with the printer",
]


@pytest.mark.parametrize("text, phrase", AFFIRMED)
def test_what_a_caller_in_trouble_says_is_found(english, text, phrase):
    assert phrase in [m.phrase for m in english.match(text)], english.match(text)


@pytest.mark.parametrize("text", DENIED)
def test_what_a_caller_says_to_deny_trouble_is_not_found(english, text):
    assert english.match(text) == [], english.match(text)


@pytest.mark.parametrize("text", SUPPORT)
def test_support_call_sentences_a_word_away_from_a_phrase_are_not_found(english, text):
    """A phrase's key word (its last word that is no pronoun, article or such: arm, air, breath)
    must be said, or a slip of it: "i can't move my appointment" is no "i can't move my arm"."""
    assert english.match(text) == [], english.match(text)


@pytest.mark.parametrize("text", SUPPORT_REQUESTS)
def test_a_support_request_that_sounds_like_a_phrase_is_not_found(english, text):
    """Help asked with a password, a doctor's note, a phrasal verb with another particle ("pass on")
    and a word that is no slip of the key word ("hearted" for "headed") are ordinary speech."""
    assert english.match(text) == [], english.match(text)


@pytest.mark.parametrize("text, phrase", [
    ("i can't breed", "i can't breathe"),
    ("i can't catch my breast", "i can't catch my breath"),
    ("i'm short of breadth", "short of breath"),
    ("my chest hurt", "my chest hurts"),
    ("i can't move my arms", "i can't move my arm"),
    ("i'm dying", "i'm dying"),
    ("i think i'm dying help", "i'm dying"),
    ("i'm passing out", "i'm passing out"),
    ("i'm passing out here", "i'm passing out"),
])
def test_a_slip_of_the_key_word_and_a_phrase_that_is_no_idiom_are_found(english, text, phrase):
    assert phrase in [m.phrase for m in english.match(text)], english.match(text)


def test_the_tables_are_large_enough_to_mean_something():
    assert len(AFFIRMED) >= 25 and len(DENIED) >= 20


def said(*items: tuple[str, float], gap_s: float = 0.05) -> tuple[Word, ...]:
    """Words said one after another from the time given, each 0.3 s long, ``gap_s`` apart."""
    out = []
    for text, t in items:
        for w in text.split():
            out.append(Word(w, t, t + 0.3, 0.9))
            t += 0.3 + gap_s
    return tuple(out)


def final(words: tuple[Word, ...]) -> WordsEvent:
    return WordsEvent(t=words[-1].end, final=True, words=words, text=" ".join(w.word for w in words))


@pytest.mark.parametrize("earlier, later, phrase", [
    ("i don't have", "chest pain", "chest pain"),
    ("no", "chest pain", "chest pain"),
    ("i'm not sure", "call an ambulance", "call an ambulance"),
    ("not really", "i'm dizzy", "i'm dizzy"),
])
def test_a_negation_in_an_earlier_utterance_does_not_reach_the_next(english, earlier, later, phrase):
    """The recognizer ends an utterance at a pause: what follows is said anew ("no." - "chest pain")."""
    spot = PhraseSpotter(english)
    assert spot.push(final(said((earlier, 1.0)))) == []
    assert [h.match.phrase for h in spot.push(final(said((later, 4.0))))] == [phrase]


def test_an_idiom_in_an_earlier_utterance_does_not_hide_the_phrase_in_the_next(english):
    spot = PhraseSpotter(english)
    assert spot.push(final(said(("i'm dying to know", 1.0)))) == []
    hits = spot.push(final(said(("really i'm dying", 4.0))))
    assert [(h.match.phrase, h.match.excerpt) for h in hits] == [("i'm dying", "i'm dying")]


def test_a_pause_ends_a_negation_s_reach_and_no_pause_keeps_it(english):
    """Word times show the pause the recognizer writes no comma for: "no ... chest pain" is two
    answers, "no chest pain" one."""
    paused = said(("no", 1.0)) + said(("chest pain", 1.8))
    assert [h.match.phrase for h in PhraseSpotter(english).push(final(paused))] == ["chest pain"]
    assert PhraseSpotter(english).push(final(said(("no chest pain", 1.0)))) == []
    assert PhraseSpotter(english).push(final(said(("i don't have chest pain", 1.0), gap_s=0.25))) == []
