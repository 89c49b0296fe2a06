/// The language reference in Markdown: the first part of
/// `CommandRegistry.markdownReference()`.
public let languageReference = #"""
  ## The language

  tdb reads statements separated by newlines or `;`. `#` starts a comment that
  runs to the end of the line (so a `#!/usr/bin/env tdb` first line is one). A
  `\` at the end of a line continues the statement on the next line; so does a
  line that starts with `|`, and a line that ends with an operator or inside
  `(...)` or `[...]`.

  ### Values

  | type | literals | notes |
  | --- | --- | --- |
  | number | `1`, `-1`, `1.5`, `1e-3` | 64-bit floats; integers print without `.0` |
  | string | `"layer $L"`, `'raw $L'` | see *Strings* |
  | bool | `true`, `false` | conditions must be bools |
  | null | `null` | the value of statements that have none |
  | list | `[1, 2, 3]` | newlines allowed inside the brackets |
  | record | `{a: 1, "b c": "x"}` | keys keep their order |
  | table | made by commands | columns and rows; a list of records acts as a table |
  | function | `{ \|x\| x + 1 }`, `def f(a) { ... }` | closures capture their scope |
  | host values | `L1H2`, `blocks.3.hook_resid_pre`, runs, tensors ... | defined by the model commands |

  ### Strings

  `"..."` strings interpolate `$name` (a variable) and `$(expression)`:
  `"layer $L has $(len heads) heads"`. They know the escapes `\n \t \r \0 \"
  \' \\ \$` and `\u{1F916}`. `'...'` strings take the same escapes but do not
  interpolate.

  ### Variables

  `let x = 1` binds a new variable in the current scope (blocks, loop bodies
  and function bodies are scopes); `x = 2` rebinds the nearest existing one,
  and `x += 1`, `-=`, `*=`, `/=` update it. `xs[0] = v`, `r.name = v` and
  `r["name"] = v` update an element or a field inside a variable.

  `$name` always means the variable `name`. `$_` is the last result of a
  top-level expression, `$1`, `$2` ... the session's numbered results, `$args`
  the script's arguments (a list of strings) and `$env.HOME` an environment
  variable.

  ### Bare words

  A plain identifier at the start of a statement or pipeline stage is a
  command call if it names a command (builtins, and `def`s — also those
  further down the same script); it is also a call when an argument follows
  it after a space. Otherwise it is a value.

  As a value, a bare word is a variable if one of that name is bound. If not,
  the word goes to the model's resolver, which knows component and hook names:
  `L1H2`, `L3N77`, `blocks.3.hook_resid_pre`, `sae.F12`. Dotted words are one
  word; if the part before the first dot is a variable, the rest are field
  accesses (`r.total`). A word can interpolate: `blocks.$L.hook_mlp_out`. A
  word nothing knows is an error that suggests the nearest name.

  ### Operators

  Loosest first: `|` (pipeline); `or`/`||`; `and`/`&&`; `not`/`!`; `== != <
  <= > >=`; `..` (range); `+ -`; `* / %`; unary `-`; then postfix `x[i]`,
  `x.name`, `f(a, b)`.

  - `a..b` is the list of integers from `a` up to but not including `b`:
    `0..3` is `[0, 1, 2]`; `for i in 0..n` counts without building the list.
  - `+` adds numbers and joins strings, lists and records; `*` also repeats a
    string or list (`"-" * 20`); `%` is the floored remainder; dividing by
    zero is an error.
  - `==` compares any two values; `<` and friends compare numbers or strings.
  - `and`, `or` and `not` take bools and short-circuit.

  Postfix operators must touch their operand: `xs[0]`, `r.total`, `f(x)`.
  With a space in between, `f [0]` and `f (x)` pass arguments to a command.

  ### Indexing

  `xs[0]`, `xs[-1]` (from the end), `xs[1:3]`, `xs[::2]`, `xs[:]` (Python
  slices) work on lists, strings and tables (a table row is a record);
  `r["name"]` and `r.name` read a record field or a table column;
  `xs[i, j]` is `xs[i][j]`. Host values (tensors) take any subscripts:
  `t[3, :, 0:5]`.

  ### Commands

  A command call is the command's name followed by arguments separated by
  spaces: values, and `--name` flags that are switches (`--desc`) or take the
  next value (`--top 5`). Arguments are expressions: `print a + 1` passes one
  argument. Wrap a command call in parentheses to use its value as an
  argument: `print (len xs)`. `f(a, b)` calls a command or function with
  positional arguments only.

  Minus signs: inside a command's arguments, a `-` with a space before it and
  none after starts a new, negative argument — `--pos -1` and
  `print a -1` pass `-1` — while `print a - 1` and `print a-1` pass one
  difference. Outside command arguments `-` between operands always
  subtracts.

  Some commands take a column name as a bare word (`sort total`), or an
  expression evaluated once per row with the row's fields as variables
  (`where total > 1`, also `where { |r| r.total > 1 }`).

  ### Pipelines

  `a | b | c` passes the value of `a` to the command `b` as its input, and so
  on. A list of records acts as a table:
  `[{a: 1}, {a: 3}] | where a > 1 | to csv`. A stage may also be a function
  value, which is called with the input; a `def` gets the input as its first
  argument.

  ### Control flow

  `if c { ... } else if d { ... } else { ... }` is an expression: its value is
  the value of the last statement of the branch taken (or null).
  `for x in xs { ... }` visits list elements, table rows (as records), record
  fields (as `{key, value}` records) or string characters; `while c { ... }`
  loops; `break` and `continue` work in both.

  ### Functions

  `def name(a, b) { ... }` defines a command; its value is the value of the
  last statement, or what `return` gives. `{ |x, y| ... }` is a closure and
  `{ ... }` a closure without parameters; both capture the variables around
  them. Call a function value with `f(1, 2)` or as a command `f 1 2` if it is
  bound to a variable. Recursion deeper than the interpreter allows is an
  error, not a crash.

  ### Errors

  Errors name the place: `FILE:LINE:COL: error: MESSAGE`, the source line
  and a caret under the column — under the argument an error is about
  (`ablate L99H3` points at `L99H3`). Unknown names, commands, flags and
  fields suggest the nearest known one.
  """#
