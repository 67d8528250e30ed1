"""Labelled queries for relevance tests, written for them (not copied from the data):
each is a question a user might ask in their own words, with acronyms, synonyms and
misspellings, and the Perl FAQ question (``findalike/demo/perlfaq.csv``) that answers it."""

from __future__ import annotations

PERLFAQ_PARAPHRASES: list[tuple[str, str]] = [
    (
        "whats on CPAN and which add-ons can i get",
        "What modules and extensions are available for Perl? What is CPAN?",
    ),
    ("talk to a SQL db like postgres from my script", "How do I use an SQL database?"),
    ("a REPL where i type statements one at a time", "How can I use Perl interactively?"),
    (
        "get my machine's IP adress and host name",
        "How do I find out my hostname, domainname, or IP address?",
    ),
    ("make a window with buttons using Tk", "How can I write a GUI (X, Tk, Gtk, etc.) in Perl?"),
    ("upload files to a server over SFTP", "How do I fetch/put an (S)FTP file?"),
    ("remote procedure calls from perl", "How can I do RPC in Perl?"),
    (
        "attach a pdf to an email message",
        "How do I use MIME to make an attachment to a mail message?",
    ),
    (
        "is perl affected by the y2k bug",
        "Does Perl have a Year 2000 or 2038 problem? Is Perl Y2K compliant?",
    ),
    (
        "validate a credit card number with the luhn check",
        "How do I verify a credit card checksum?",
    ),
    ("what does PSGI mean", "What is Plack and PSGI?"),
    ("sort a list of recods by any field i like", "How do I sort an array by (anything)?"),
    (
        "convert hex to decimal or to binary",
        "How do I convert between numeric representations/bases/radixes?",
    ),
    (
        "round a floating point numbr to the nearest integer",
        "Does Perl have a round() function? What about ceil() and floor()? Trig functions?",
    ),
    (
        "why does my sum print 19.9499999 instead of 19.95",
        "Why am I getting long decimals (eg, 19.9499999999999) instead of the numbers I should "
        "be getting (eg, 19.95)?",
    ),
    ("stop defunct child processes piling up", "How do I avoid zombies on a Unix system?"),
    ("limit the processor time my script may use", "How do I set CPU limits?"),
    (
        "read the error output of an external program",
        "How can I capture STDERR from an external command?",
    ),
    ("send bytes to a modem on COM1", "How do I read and write the serial port?"),
    ("wipe the terminal", "How do I clear the screen?"),
    ("print coloured text in the terminal", "How do I print something out in color?"),
    ("find out the terminal width and hieght", "How do I get the screen size?"),
    ("check whether an email adress is valid", "How do I check a valid mail address?"),
    ("pull all the links out of a web page", "How do I extract URLs?"),
    ("percent-escape a query string", "How do I decode or create those %-encodings on the web?"),
    ("send the browser to a diffrent URL", "How do I redirect to another page?"),
    (
        "protect my site so only users with a login can see it",
        "How do I put a password on my web pages?",
    ),
    ("add a CPAN package to my perl installation", "How do I install a module from CPAN?"),
    (
        "when is a module loaded by require versus use",
        "What's the difference between require and use?",
    ),
    (
        "add a folder to @INC while the program runs",
        "How do I add a directory to my include path (@INC) at runtime?",
    ),
    ("functions that remember the variables of the scope they were made in", "What's a closure?"),
    ("copy a whole folder with its subfolders", "How do I copy an entire directory?"),
    ("remove a folder and everything in it", "How do I delete a directory tree?"),
    ("get the modification time of a file", "How do I get a file's timestamp in perl?"),
    ("follow a growing log file as lines are added", "How do I do a tail -f in perl?"),
    (
        "must XS extensions be rebuilt after a libc upgrade",
        "Do I need to recompile XS modules when there is a change in the C library?",
    ),
    (
        "which OS is my script running on",
        "How do I find out which operating system I'm running under?",
    ),
    (
        "match balanced brackets with a regular expression",
        "Can I use Perl regular expressions to match balanced text?",
    ),
    (
        "make a regex match as little as possible",
        "What does it mean that regexes are greedy? How can I get around it?",
    ),
    ("fuzzy string matching that tolerates typos", "How can I do approximate matching?"),
]

OFF_TOPIC: list[str] = [
    "what is the capital of australia",
    "how long should i boil an egg",
    "who won the football world cup in 1998",
    "what is the best fertiliser for tomatoes",
    "how do i change a flat tyre on a bicycle",
    "what causes the northern lights",
    "how many calories are in a banana",
    "when was the eiffel tower built",
]
