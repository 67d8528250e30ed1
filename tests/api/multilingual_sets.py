"""Labelled queries in other languages than English, written for these tests (not
copied from the data): Chinese paraphrases of questions of the Chinese FAQ
(``datasets/chatterbot_zh/qa_zh.csv``, from chatterbot-corpus), and questions in
Chinese, Spanish, German, French, Japanese, Russian and Korean whose answer is in the
English Perl FAQ (``findalike/demo/perlfaq.csv``). Each names the stored question
that answers it. Questions of the Chinese FAQ that have a near twin there (你什么时候
会死 / 你什么时候死, 太阳有多远 / 有多远是太阳, ...) are left out: no paraphrase can
tell them apart."""

from __future__ import annotations

ZH_FAQ_PARAPHRASES: list[tuple[str, str]] = [
    ("你是用哪种编程语言写出来的", "你是什么语言编写的"),
    ("电灯是谁发明的", "谁发明了电灯泡"),
    ("蒸汽机是哪个人发明的", "谁发明了蒸汽机"),
    ("聊天机器人到底是什么东西", "什么是聊天机器人"),
    ("美国的第三十七任总统是谁", "谁是美国第37届总统?"),
    ("约翰·肯尼迪是在哪一年被刺杀的", "肯尼迪总统哪年遇刺身亡?"),
    ("人类发射的第一颗卫星叫什么名字", "第一颗人造地球卫星的名称是什么?"),
    ("距离我们的银河系最近的大星系是哪一个", "离银河系最近的大型星系叫什么?"),
    (
        "哈勃望远镜的名字来自哪位天文学家",
        "哈勃太空望远镜，于1990年发射进入近地轨道，它是以什么美国天文学家命名的?",
    ),
    ("《天佑女王》是哪一个国家的国歌", "天佑女王是哪个国家的国歌?"),
    (
        "海豚靠什么本领来判断周围物体的位置",
        "海豚使用的一种感觉，类似于声纳，以确定附近的物品的位置和形状.它是什么",
    ),
    ("哈比人这本书的作者是谁", "是谁写的哈比人"),
    ("经济学是一门什么学问", "什么是经济学"),
    ("什么叫做共产主义", "什么是共产主义"),
    ("绿色和平是一个怎样的组织", "什么是绿色和平组织"),
    ("化学是研究什么的", "什么是化学"),
    ("H2O指的是什么", "什么是H2O"),
    ("万有引力是什么意思", "什么是万有引力"),
    ("足球是一种什么样的运动", "什么是足球"),
    ("篮球是怎样的一种游戏", "什么是篮球"),
    ("历史上最伟大的棒球选手是谁", "谁是最伟大的棒球运动员"),
    ("哥斯拉是什么怪物", "谁是哥斯拉"),
    ("你害不害怕", "你害怕吗"),
    ("你会不会觉得孤独", "你会孤单"),
    ("你喝不喝酒", "你喝酒吗"),
    ("你的爸爸是谁", "谁是你的父亲"),
    ("你今年多大了", "你几岁"),
    ("你爱不爱我", "你爱我吗？"),
    ("爱到底是什么", "什么是爱"),
    ("你可以在哪些操作系统上运行", "你能在什么操作系统上运行"),
    ("你对历史有兴趣吗", "你对历史感兴趣"),
    ("细菌学是研究什么的科学", "什么是细菌学"),
    ("你有没有兄弟", "你有兄弟"),
    ("你拿不拿工资", "你有薪水吗？"),
    ("你是做什么工作的", "你的工作是什么"),
]

CROSS_LINGUAL_PERLFAQ: list[tuple[str, str, str]] = [
    # (language, question, the English Perl FAQ question that answers it)
    ("zh", "如何按值对哈希进行排序", "How do I sort a hash (optionally by value instead of key)?"),
    ("zh", "怎样用程序发送电子邮件", "How do I send email?"),
    ("zh", "怎么把两个哈希合并成一个", "How do I merge two hashes?"),
    ("zh", "如何把一个字符串倒过来", "How do I reverse a string?"),
    ("zh", "如何去掉数组里重复的元素", "How can I remove duplicate elements from a list or array?"),
    ("zh", "怎样随机打乱一个数组", "How do I shuffle an array randomly?"),
    ("zh", "怎样给文件加锁", "How can I lock a file?"),
    ("zh", "如何调试我的Perl程序", "How do I debug my Perl programs?"),
    ("zh", "怎么统计一个文件有多少行", "How do I count the number of lines in a file?"),
    ("zh", "如何得到昨天的日期", "How do I find yesterday's date?"),
    ("es", "¿Cómo invierto una cadena de texto?", "How do I reverse a string?"),
    ("es", "¿Cómo envío un correo electrónico?", "How do I send email?"),
    (
        "es",
        "¿Cómo quito los elementos duplicados de un array?",
        "How can I remove duplicate elements from a list or array?",
    ),
    ("de", "Wie kann ich eine Datei sperren?", "How can I lock a file?"),
    ("de", "Wie mische ich ein Array zufällig?", "How do I shuffle an array randomly?"),
    ("de", "Wie finde ich das Datum von gestern heraus?", "How do I find yesterday's date?"),
    ("fr", "Comment fusionner deux tables de hachage ?", "How do I merge two hashes?"),
    ("fr", "Comment déboguer mes programmes Perl ?", "How do I debug my Perl programs?"),
    (
        "fr",
        "Comment compter le nombre de lignes d'un fichier ?",
        "How do I count the number of lines in a file?",
    ),
    ("ja", "文字列を逆順にするにはどうすればいいですか", "How do I reverse a string?"),
    (
        "ru",
        "Как отсортировать хеш по значению?",
        "How do I sort a hash (optionally by value instead of key)?",
    ),
    ("ko", "두 해시를 하나로 합치려면 어떻게 하나요?", "How do I merge two hashes?"),
]
