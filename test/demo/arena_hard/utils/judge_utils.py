"""Stand-in of the official utils/judge_utils.py: JUDGE_SETTINGS in the same shape, alpacaflow's own prompt text."""

STANDIN_PROMPT = (
    "You are comparing two assistants' answers to one question (a stand-in written for alpacaflow's tests). "
    "Say which answer is better and end with one verdict: [[A>>B]], [[A>B]], [[A=B]], [[B>A]] or [[B>>A]]."
)

JUDGE_SETTINGS = {
    "arena-hard-v0.1": {
        "baseline": "standin-baseline",
        "system_prompt": STANDIN_PROMPT,
    },
}
