import Engine
import Lang
enum BuiltinsModule {}
