"""Object names: generated container names (`adjective_surname`, like Docker's namesgenerator) and
the rule every user-given container, network and volume name follows."""

import random
import re

# Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]; \Z, not $: "$" also matches before a final newline.
_VALID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
MAX_NAME = 255  # the longest file name: names become directory and file names


def valid_name(name: str, *, min_length: int = 2) -> bool:
    """A container or volume name has two characters at least (Docker's rule); networks one."""
    return min_length <= len(name) <= MAX_NAME and _VALID.match(name) is not None


ADJECTIVES = """admiring adoring affectionate agitated amazing angry awesome beautiful blissful bold
boring brave busy charming clever compassionate competent condescending confident cool cranky
crazy dazzling determined distracted dreamy eager ecstatic elastic elated elegant eloquent epic
exciting fervent festive flamboyant focused friendly frosty funny gallant gifted goofy gracious
great happy hardcore heuristic hopeful hungry infallible inspiring intelligent interesting jolly
jovial keen kind laughing loving lucid magical modest musing mystifying naughty nervous nice
nifty nostalgic objective optimistic peaceful pedantic pensive practical priceless quirky quizzical
recursing relaxed reverent romantic sad serene sharp silly sleepy stoic strange stupefied
suspicious sweet tender thirsty trusting unruffled upbeat vibrant vigilant vigorous wizardly
wonderful xenodochial youthful zealous zen""".split()

SURNAMES = """albattani allen almeida antonelli archimedes ardinghelli aryabhata austin babbage banach
banzai bardeen bartik bassi beaver bell benz bhabha bhaskara black blackburn blackwell bohr booth
borg bose bouman boyd brahmagupta brattain brown buck burnell cannon carson cartwright carver cerf
chandrasekhar chaplygin chatelet chatterjee chaum chebyshev clarke cohen colden cori cray curie
darwin davinci dewdney dhawan diffie dijkstra dirac driscoll dubinsky easley edison einstein
elbakyan elgamal elion ellis engelbart euclid euler faraday feistel fermat fermi feynman franklin
gagarin galileo galois ganguly gates gauss germain goldberg goldstine goldwasser golick goodall
gould greider grothendieck haibt hamilton haslett hawking heisenberg hellman hermann herschel hertz
heyrovsky hodgkin hofstadter hoover hopper hugle hypatia ishizaka jackson jang jemison jennings
jepsen johnson joliot jones kalam kapitsa kare keldysh keller kepler khayyam khorana kilby kirch
knuth kowalevski lalande lamarr lamport leakey leavitt lederberg lehmann lewin lichterman liskov
lovelace lumiere mahavira margulis matsumoto maxwell mayer mccarthy mcclintock mclaren mclean
mcnulty meitner mendel mendeleev meninsky merkle mestorf mirzakhani montalcini moore morse moser
murdock napier nash neumann newton nightingale nobel noether northcutt noyce panini pare pascal
pasteur payne perlman pike poincare poitras proskuriakova ptolemy raman ramanujan rhodes ride
ritchie robinson roentgen rosalind rubin saha sammet sanderson satoshi shamir shannon shaw shirley
shockley shtern sinoussi snyder solomon spence stonebraker sutherland swanson swartz swirles taussig
tesla tharp thompson torvalds tu turing varahamihira vaughan villani visvesvaraya volhard wescoff
wilbur wiles williams williamson wilson wing wozniak wright wu yalow yonath zhukovsky""".split()


def generate_name(retry: int = 0) -> str:
    """A random `adjective_surname`; after a collision the caller retries with a digit suffix."""
    while True:
        name = f"{random.choice(ADJECTIVES)}_{random.choice(SURNAMES)}"
        if name != "boring_wozniak":  # Steve Wozniak is not boring (Docker's rule).
            break
    if retry:
        name += str(random.randint(0, 9))
    return name
