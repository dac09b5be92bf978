"""Deterministic, realistic emulator content: the same input always yields the same video.

Pure functions of the input text (and the clock and the CDN's address for signed media URLs),
so the emulator can answer a million inputs with no state but the jobs it is running.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

_URL = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")
_SHARE_CODE = re.compile(r"^[\d.]+\s+(?:\d+/\d+\s+\S+:/\s+\S+\s*)?")
_DOUYIN_INTRO = re.compile(r"复制打开抖音，看看【[^】]*】")
_TRAILERS = ("复制此链接", "复制打开抖音", "点击链接", "复制本条信息", "打开Dou音")

TOPICS = (
    "以太币",
    "航海王",
    "海贼王",
    "比特币",
    "变装",
    "穿搭",
    "美食",
    "旅行",
    "健身",
    "动漫",
    "编程",
    "摄影",
)
NICKNAMES = (
    "午夜屠虎男",
    "小鱼的日常",
    "币圈老王",
    "航海王_ONEPIECE官方",
    "穿搭日记",
    "吃货阿强",
    "程序员小李",
    "旅行的猫",
)
SENTENCES = (
    "你好，大家现在是{topic}的时间啊",
    "今天我们来聊一聊{topic}",
    "我感觉很大的可能性{topic}会直接突破",
    "然后我说过，这个{topic}的机会是根本不会等人的",
    "所以我想说的是，{topic}真的值得关注",
    "大家可以在评论区说说你们对{topic}的看法",
    "前天的那个视频我说过，{topic}现在在400%盈利中",
    "关注一下就可以了，我们下期再聊{topic}",
    "这个横盘整理的底部，其实就是{topic}最好的进场点",
    "那就这样了，感谢大家的支持",
)


def digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _pick(options: tuple[str, ...], seed: bytes, offset: int) -> str:
    return options[seed[offset % len(seed)] % len(options)]


def share_title(text: str) -> str | None:
    """The title part of a pasted share text: no share code, URL or app trailer."""
    before_url = _DOUYIN_INTRO.sub("", _URL.split(text)[0])
    for trailer in _TRAILERS:
        before_url = before_url.split(trailer)[0]
    title = _SHARE_CODE.sub("", before_url).strip()
    title = re.sub(r"#\s+", "#", title)
    title = re.sub(r"【|】|-哔哩哔哩", " ", title)
    return " ".join(title.split()) or None


@dataclass(frozen=True)
class Cdn:
    """Where the answers' media URLs point (the emulator's own `/cdn/`) and how long they live:
    `url_seconds` for all, else as seen on real ones; `expired` issues them already dead."""

    base: str
    url_seconds: float | None = None
    expired: bool = False

    def expiry(self, now: int, realistic: int) -> int:
        if self.expired:
            return now - 60
        return now + (realistic if self.url_seconds is None else int(self.url_seconds))


def sign(path: str, expiry: int) -> str:
    """The CDN's signature of a path until a time: what lets it refuse a URL edited by hand."""
    return hashlib.sha256(f"emulator-cdn:{path}:{expiry}".encode()).hexdigest()


def avatar_id(nickname: str) -> str:
    """One avatar per author, so an author's videos share it, as on the platform."""
    return digest("avatar:" + nickname).hex()[:32]


def metadata(input_text: str, now: int, cdn: Cdn) -> dict[str, str]:
    """The metadata workflow's `data` object, in the recorded key order.

    Its URLs keep the real ones' shapes, with the real host as the first path segment under
    the CDN: `…/cdn/<host>/<path>?<query>`."""
    seed = digest(input_text)
    topic = _pick(TOPICS, seed, 0)
    title = (
        share_title(input_text)
        or f"{topic}的{_pick(('秘密', '故事', '分析', '日常', '合集'), seed, 1)} #{topic} #{_pick(TOPICS, seed, 2)}"
    )
    nickname = _pick(NICKNAMES, seed, 3)
    hexid = seed.hex()
    # One to three hours for a play URL, two to four weeks for an image, as seen on real ones.
    play_expiry = cdn.expiry(now, 3600 + seed[4] * 28)
    image_expiry = cdn.expiry(now, 14 * 86400 + seed[5] * 4700)
    video = f"video/tos/cn/tos-cn-ve-15c000-ce/o{hexid[32:50]}/"
    cover = f"tos-cn-i-0813c000-ce/o{hexid[:30]}~tplv-dy-resize-walign-adapt-aq:540:q75.webp"
    return {
        "avatar": f"{cdn.base}/p3.douyinpic.com/aweme/100x100/aweme-avatar/tos-cn-i-0813c001_{avatar_id(nickname)}.jpeg?from=327834062",
        "cover_url": (
            f"{cdn.base}/v5-se-qn-daily-cm-cold.douyinvod.com/{sign(video, play_expiry)[:32]}/{play_expiry:08x}/{video}"
            "?a=1128&ch=0&cr=0&dr=0&cd=0%7C0%7C0%7C0&cv=1&br=1117"
            f"&bt=1117&cs=0&ds=3&mime_type=video_mp4&qs=0&btag=80010e000a8000&dy_q={now}"
        ),
        "nickname": nickname,
        "output": (
            f"{cdn.base}/p9-sign.douyinpic.com/{cover}"
            f"?lk3s=138a59ce&x-expires={image_expiry}&x-signature={sign(cover, image_expiry)[:27]}%3D&from=327834062"
            "&s=PackSourceEnum_DOUYIN_REFLOW&se=false&sc=cover&biz_tag=aweme_video"
        ),
        "title": title,
    }


def transcript(input_text: str) -> tuple[str, str]:
    """(content, title): Chinese text of varying length, on one topic per video."""
    seed = digest("transcript:" + input_text)
    topic = _pick(TOPICS, seed, 0)
    count = 3 + seed[1] % 40
    sentences = [
        SENTENCES[seed[(i + 2) % len(seed)] % len(SENTENCES)].format(topic=topic)
        for i in range(count)
    ]
    content = "，".join(sentences[:-1]) + "。" + sentences[-1] + "。"
    title = f"{topic}{_pick(('实盘', '分析', '日常', '合集', '教程'), seed, 3)} {1 + seed[4] % 12}/{1 + seed[5] % 28}"
    return content, title


def transcript_output(content: str, title: str) -> str:
    """The run record's `output`: JSON whose `Output` is JSON again, as recorded."""
    inner = json.dumps(
        {"content": content, "title": title}, ensure_ascii=False, separators=(",", ":")
    )
    return json.dumps(
        {"node_status": "{}", "Output": inner}, ensure_ascii=False, separators=(",", ":")
    )


def trimmed_output(content: str, title: str) -> str:
    """A trimmed record's `output`: the stored string cut at a size limit, as the service cuts
    it, so it is no longer JSON. Where the cut falls is seeded by the text: anywhere from just
    inside `content` to just before the end, the title sometimes half kept."""
    full = transcript_output(content, title)
    marker = '\\"content\\":\\"'
    start = full.index(marker) + len(marker) + 1
    span = len(full) - 1 - start
    return full[: start + int.from_bytes(digest(full)[:4]) % span]
