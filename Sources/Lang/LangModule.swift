/// The tdb language: lexer, parser, interpreter. Filled in by the Lang work.
enum LangModule {}
