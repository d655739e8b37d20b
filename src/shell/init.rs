//! `gardefou init bash|zsh|fish`: the snippet that gives an ordinary shell the environment's
//! colored badge in its prompt and a check of each command line before it runs. A line the
//! policy denies is not run; the rest runs as typed, and the shims (first on PATH) ask for
//! confirmations and take snapshots. While the host is in maintenance (`gardefou maintenance
//! start`: its state file exists), the prompt also shows `[MAINTENANCE]`, tested at each prompt
//! without starting a process. `eval "$(gardefou init bash)"` in ~/.bashrc or /etc/bash.bashrc.

use crate::intent::sh_quote as quote;
use crate::policy::Environment;
use crate::policy::schema::Color;

/// The ANSI color code of an environment's color.
fn ansi(color: Color) -> &'static str {
    match color {
        Color::Red => "1;31",
        Color::Yellow => "1;33",
        Color::Green => "1;32",
        Color::Blue => "1;34",
        Color::Magenta => "1;35",
        Color::Cyan => "1;36",
        Color::White => "1;37",
    }
}

pub fn snippet(
    shell: &str,
    env: &Environment,
    host: &str,
    gardefou: &str,
    state_file: &std::path::Path,
) -> Option<String> {
    let badge = format!("[{} {host}]", env.name.to_uppercase());
    let code = ansi(env.color);
    let mt = ansi(Color::Yellow);
    let g = quote(gardefou);
    let state = quote(&state_file.to_string_lossy());
    Some(match shell {
        "bash" => format!(
            r#"# gardefou for bash: environment badge in the prompt, each command checked before it runs.
__gardefou_bin={g}
__gardefou_state={state}
if [ -t 1 ] && [ -z "${{NO_COLOR:-}}" ]; then
  PS1='\[\e[{code}m\]'{badge}'\[\e[0m\] ${{__gardefou_mt:+\[\e[{mt}m\][MAINTENANCE]\[\e[0m\] }}'"${{PS1:-\\u@\\h:\\w\\$ }}"
else
  PS1={badge}' ${{__gardefou_mt:+[MAINTENANCE] }}'"${{PS1:-\\u@\\h:\\w\\$ }}"
fi
__gardefou_prompt() {{
  if [ -e "$__gardefou_state" ]; then __gardefou_mt=1; else __gardefou_mt=; fi
}}
PROMPT_COMMAND=(__gardefou_prompt "${{PROMPT_COMMAND[@]}}")
__gardefou_preexec() {{
  # Not for completion, the prompt's own commands, or gardefou's functions.
  [ -n "${{COMP_LINE:-}}" ] && return 0
  case "${{FUNCNAME[1]:-}}" in __gardefou_*) return 0 ;; esac
  case "$BASH_COMMAND" in __gardefou_*) return 0 ;; esac
  local __gardefou_pc
  for __gardefou_pc in "${{PROMPT_COMMAND[@]}}"; do
    [ "$BASH_COMMAND" = "$__gardefou_pc" ] && return 0
  done
  # Refusals are explained; a confirmation no shim will ask for is asked here.
  "$__gardefou_bin" check --ask --line "$BASH_COMMAND"
  if [ $? -eq 4 ]; then
    return 1   # with extdebug, a DEBUG trap that fails skips the command
  fi
  return 0
}}
shopt -s extdebug
trap '__gardefou_preexec' DEBUG
"#,
            badge = quote(&badge),
        ),
        "zsh" => format!(
            r#"# gardefou for zsh: environment badge in the prompt, each line checked before it runs.
typeset -g __gardefou_bin={g}
typeset -g __gardefou_state={state}
typeset -g __gardefou_base="${{PROMPT:-%n@%m:%~%# }}"
if [[ -t 1 && -z ${{NO_COLOR:-}} ]]; then
  typeset -g __gardefou_badge=$'%{{\e[{code}m%}}'{badge}$'%{{\e[0m%}} '
  typeset -g __gardefou_mt=$'%{{\e[{mt}m%}}[MAINTENANCE]%{{\e[0m%}} '
else
  typeset -g __gardefou_badge={badge}' '
  typeset -g __gardefou_mt='[MAINTENANCE] '
fi
__gardefou_precmd() {{
  if [[ -e $__gardefou_state ]]; then
    PROMPT="$__gardefou_badge$__gardefou_mt$__gardefou_base"
  else
    PROMPT="$__gardefou_badge$__gardefou_base"
  fi
}}
typeset -ga precmd_functions
precmd_functions+=(__gardefou_precmd)
__gardefou_precmd
__gardefou_accept_line() {{
  if [[ -n $BUFFER ]]; then
    "$__gardefou_bin" check --line "$BUFFER" >/dev/null 2>&1
    if (( $? != 0 )); then
      zle -I
      "$__gardefou_bin" check --ask --line "$BUFFER" </dev/tty
      if (( $? == 4 )); then
        print -s -- "$BUFFER"
        BUFFER=''
        zle reset-prompt
        return 0
      fi
    fi
  fi
  zle .accept-line
}}
zle -N accept-line __gardefou_accept_line
"#,
            badge = quote(&badge),
        ),
        "fish" => format!(
            r#"# gardefou for fish: environment badge in the prompt, each line checked before it runs.
set -g __gardefou_bin {g}
set -g __gardefou_state {state}
# Decided here: fish_prompt's output is captured, never a terminal.
set -e __gardefou_color
if isatty stdout; and not set -q NO_COLOR
    set -g __gardefou_color 1
end
functions -q __gardefou_orig_prompt; or functions -c fish_prompt __gardefou_orig_prompt
function __gardefou_status
    return $argv[1]
end
function fish_prompt
    # The original prompt shows the last command's status: keep it for that prompt.
    set -l last $status
    set -l mt
    test -e $__gardefou_state; and set mt '[MAINTENANCE]'
    if set -q __gardefou_color
        printf '\e[{code}m%s\e[0m ' {badge}
        test -n "$mt"; and printf '\e[{mt}m%s\e[0m ' $mt
    else
        printf '%s ' {badge}
        test -n "$mt"; and printf '%s ' $mt
    end
    __gardefou_status $last
    __gardefou_orig_prompt
end
function __gardefou_execute
    set -l line (commandline)
    if test -n "$line"
        $__gardefou_bin check --line "$line" >/dev/null 2>&1
        if test $status -ne 0
            echo
            $__gardefou_bin check --ask --line "$line" </dev/tty
            if test $status -eq 4
                commandline ''
                commandline -f repaint
                return
            end
        end
    end
    commandline -f execute
end
bind \r __gardefou_execute
bind \n __gardefou_execute
"#,
            badge = quote(&badge),
        ),
        _ => return None,
    })
}
