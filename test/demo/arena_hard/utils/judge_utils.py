"""Stand-in of the official utils/judge_utils.py: JUDGE_SETTINGS in the same shape, alpacaflow's own prompt text."""

STANDIN_PROMPT = (
    "You are comparing two assistants' answers to one question (a stand-in written for alpacaflow's tests). "
    "Say which answer is better and end with one verdict: [[A>>B]], [[A>B]], [[A=B]], [[B>A]] or [[B>>A]]."
)

STANDIN_CREATIVE_PROMPT = (
    "You are comparing two assistants' pieces of creative writing (a stand-in written for alpacaflow's tests). "
    "Say which one is better written and end with one verdict: [[A>>B]], [[A>B]], [[A=B]], [[B>A]] or [[B>>A]]."
)

JUDGE_SETTINGS = {
    "hard_prompt": {
        "baseline": "standin-o3",
        "system_prompt": STANDIN_PROMPT,
    },
    "creative_writing": {
        "baseline": "standin-gemini",
        "system_prompt": STANDIN_CREATIVE_PROMPT,
    },
    "arena-hard-v0.1": {
        "baseline": "standin-baseline",
        "system_prompt": STANDIN_PROMPT,
    },
}
