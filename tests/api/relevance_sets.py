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

PERLFAQ_HELD_OUT: list[tuple[str, str]] = [
    (
        "who maintains perl and why dont i have to pay for it",
        "Who supports Perl? Who develops it? Why is it free?",
    ),
    ("is perl 6 the same thing as raku", "What are Perl 4, Perl 5, or Raku (Perl 6)?"),
    (
        "how does perl stack up against python or java",
        "How does Perl compare with other languages like Java, Python, REXX, Scheme, or Tcl?",
    ),
    ("situations where perl is the wrong tool", "When shouldn't I program in Perl?"),
    ("what is meant by just another perl hacker", "What is a JAPH?"),
    (
        "compile the perl interpreter without gcc",
        "I don't have a C compiler. How can I build my own Perl interpreter?",
    ),
    (
        "tidy up the indentation of my perl source",
        "Is there a pretty-printer (formatter) for Perl?",
    ),
    ("full screen terminal UI with ncurses", "How can I use curses with Perl?"),
    (
        "turn my perl script into a standalone exe or bytecode",
        "How can I compile my Perl program into byte code or C?",
    ),
    (
        "one-liners with perl -e in the shell",
        "Can I write useful Perl programs on the command line?",
    ),
    ("int(6.999) gives a weird answer", "Why is int() broken?"),
    ("my rand() keeps giving the same sequence", "Why aren't my random numbers random?"),
    ("what millenium is it now", "How do I find the current century or millennium?"),
    ("convert a date to a julian day numbr", "How can I find the Julian Day?"),
    ("replace tab characters with spaces", "How do I expand tabs in a string?"),
    (
        "how often does a word apear inside a string",
        "How can I count the number of occurrences of a substring within a string?",
    ),
    (
        "left pad a number with leading zeros",
        "How do I pad a string with blanks or pad a number with zeroes?",
    ),
    (
        "string interpolation like python f-strings",
        "Does Perl have anything like Ruby's #{} or Python's f string?",
    ),
    (
        "compare two arrays to see if they hold the same elements",
        "How do I test whether two arrays or hashes are equal?",
    ),
    ("implement a linked list data structure", "How do I handle linked lists?"),
    ("all orderings of the items in a list", "How do I permute N elements of a list?"),
    ("number of keys in a hash", "How can I know how many entries are in a hash?"),
    (
        "is it safe to delete hash keys inside a loop over the hash",
        "What happens if I add or remove keys from a hash while iterating over it?",
    ),
    ("use an object reference as the key of a hash", "How can I use a reference as a hash key?"),
    (
        "test if a scalar looks like an integer or a float",
        "How do I determine whether a scalar is a number/whole/integer/float?",
    ),
    (
        "dump a nested data structure to see whats inside",
        "How do I print out or copy a recursive data structure?",
    ),
    ("edit a file in place like sed -i", "How can I use Perl's -i option from within a program?"),
    ("rename a file safely even across file systems", "How can I reliably rename a file?"),
    (
        "atomically increment a counter stored in a file",
        "I still don't get locking. I just want to increment"
        " the number in the file. How can I do this?",
    ),
    (
        "write the same output to several files at the same time",
        "How do I print to more than one file at once?",
    ),
    ("read a text file one paragraph at a time", "How can I read in a file by paragraphs?"),
    ("pick a random line out of a big file", "How do I select a random line from a file?"),
    (
        "remove /* */ comments from C source code with a regex",
        "How do I use a regular expression to strip C-style comments from a file?",
    ),
    (
        "escape special characters in a variable before putting it in a pattern",
        "How can I quote a variable to use in a regex?",
    ),
    (
        "count how many times each word occurs in a text",
        "How can I print out a word-frequency or line-frequency summary?",
    ),
    (
        "what are sigils like $ @ and %",
        "What are all these $@%&* punctuation signs, and how do I know when to use them?",
    ),
    (
        "difference between my and local variables",
        "What's the difference between dynamic and lexical (static)"
        " scoping? Between local() and my()?",
    ),
    (
        "override a built-in function like open",
        "How do I redefine a builtin function, operator, or method?",
    ),
    (
        "get a single keypress without hitting enter",
        "How do I read just one key without waiting for a return key?",
    ),
    ("time something with millisecond precision", "How can I measure time under a second?"),
    (
        "capture what a shell command prints",
        "Why can't I get the output of a command with system()?",
    ),
    ("automate a telnet or FTP login", "Can I use perl to run a telnet or ftp session?"),
    (
        "hide the arguments of my script from ps",
        'Is there a way to hide perl\'s command line from programs such as "ps"?',
    ),
    (
        "load modules from the same folder as my script",
        "How do I add the directory my program lives in to the module/library search path?",
    ),
    ("which framework should i pick for a web app", "Which web framework should I use?"),
    (
        "sanitize form input so my CGI script is not exploited",
        "How do I make sure users can't enter values into a"
        " form that causes my CGI script to do bad things?",
    ),
]
"""A third set, written after the encoders and QA settings in the README were chosen
and never used to choose them: the held-out check of the reported figures."""
