// The Tessera pipeline language. Only org.tessera.dsl.parser.TesseraParserFacade and AstBuilder
// see the classes ANTLR generates from this file; everything else works on the AST.
grammar Tessera;

file        : declaration* EOF ;
declaration : importDecl | blockDecl | aliasDecl | pipelineDecl ;

importDecl  : IMPORT STRING ;

// `block` and `model` declare the same thing; `model` marks a top-level network. A `sampler` is a
// block whose forward is one reverse step, instantiated for each step with its schedule values.
blockDecl   : kind=(BLOCK | MODEL | SAMPLER) name=ident LPAREN params? RPAREN LBRACE member* RBRACE ;
// `model DiT_XL_2 = DiT(depth = 28, ...)`: a named configuration, i.e. a block with new defaults.
aliasDecl   : MODEL name=ident ASSIGN call ;
params      : param (COMMA param)* COMMA? ;
param       : name=ident COLON type=ident (ASSIGN expr)? ;

member
    : LET ident ASSIGN expr                                         # letMember
    // repeat(n) as i: the copies' arguments may use i, the copy's index (channel widths per stage)
    | SUB path ASSIGN (REPEAT LPAREN count=expr RPAREN (AS index=ident)?)? call  # subMember
    | WEIGHT path COLON shape=expr (FIXED)? (ASSIGN init=expr)?     # weightMember
    | IF expr LBRACE member* RBRACE (ELSE LBRACE member* RBRACE)?   # ifMember
    | FORWARD LPAREN inputs? RPAREN body                            # forwardMember
    | CONTRACT LBRACE contractEntry* RBRACE                         # contractMember
    ;
// What a model is to a pipeline: which forward input is the latent, the timestep, the label or
// other conditioning; what its output predicts; where its variance and guidance split.
contractEntry : ident ASSIGN expr ;

body        : LBRACE statement* RBRACE ;
statement
    : LET idents ASSIGN expr                            # letStmt
    | idents ASSIGN expr                                # assignStmt
    | FOR ident (COMMA ident)? IN path body             # forStmt
    | IF expr body (ELSE body)?                         # ifStmt
    | RETURN expr                                       # returnStmt
    ;
idents      : ident (COMMA ident)* ;
// A forward input, optionally with its shape; unknown names in a shape (B) are symbolic sizes.
inputs      : input (COMMA input)* COMMA? ;
input       : ident (COLON expr)? ;
path        : ident (DOT (ident | INT))* ;
// Keywords that only start declarations or members are also ordinary names elsewhere
// (a Linear's `weight`, `proj.weight`, `for block in blocks`).
ident       : IDENT | WEIGHT | BLOCK | MODEL | FIXED | OUTPUT | REPEAT | SUB | FORWARD | PIPELINE | IMPORT | CONTRACT | SAMPLER | AS ;

expr
    : primary                                               # primaryExpr
    | expr LBRACK index=expr RBRACK                         # indexExpr
    | <assoc=right> expr POW expr                           # powExpr
    | op=(MINUS | NOT) expr                                 # unaryExpr
    | expr op=(STAR | SLASH | DSLASH | PERCENT) expr        # binaryExpr
    | expr op=(PLUS | MINUS) expr                           # binaryExpr
    | expr op=(EQ | NE | LT | GT | LE | GE) expr            # binaryExpr
    | expr op=AND expr                                      # binaryExpr
    | expr op=OR expr                                       # binaryExpr
    | IF expr THEN expr ELSE expr                           # condExpr
    ;
primary
    : INT                                                   # intLit
    | FLOAT                                                 # floatLit
    | STRING                                                # stringLit
    | (TRUE | FALSE)                                        # boolLit
    | LBRACK (expr (COMMA expr)* COMMA?)? RBRACK            # listLit
    | call                                                  # callExpr
    | path                                                  # nameExpr
    | LPAREN expr RPAREN                                    # parenExpr
    ;
call        : path LPAREN args? RPAREN ;
args        : arg (COMMA arg)* COMMA? ;
arg         : (ident ASSIGN)? expr ;

pipelineDecl : PIPELINE name=ident LBRACE setting* RBRACE ;
setting
    : ident ASSIGN expr                                     # assignSetting
    | LET ident ASSIGN expr                                 # stageSetting
    | OUTPUT STRING ASSIGN expr                             # outputSetting
    ;

IMPORT   : 'import' ;
BLOCK    : 'block' ;
MODEL    : 'model' ;
SAMPLER  : 'sampler' ;
PIPELINE : 'pipeline' ;
LET      : 'let' ;
SUB      : 'sub' ;
WEIGHT   : 'weight' ;
FIXED    : 'fixed' ;
REPEAT   : 'repeat' ;
AS       : 'as' ;
FORWARD  : 'forward' ;
CONTRACT : 'contract' ;
FOR      : 'for' ;
IN       : 'in' ;
IF       : 'if' ;
THEN     : 'then' ;
ELSE     : 'else' ;
RETURN   : 'return' ;
OUTPUT   : 'output' ;
TRUE     : 'true' ;
FALSE    : 'false' ;
AND      : 'and' ;
OR       : 'or' ;
NOT      : 'not' ;

LPAREN : '(' ;  RPAREN : ')' ;  LBRACE : '{' ;  RBRACE : '}' ;  LBRACK : '[' ;  RBRACK : ']' ;
COMMA  : ',' ;  COLON  : ':' ;  DOT    : '.' ;  ASSIGN : '=' ;
POW    : '**' ; STAR   : '*' ;  DSLASH : '//' ; SLASH  : '/' ;  PERCENT : '%' ;
PLUS   : '+' ;  MINUS  : '-' ;
EQ     : '==' ; NE     : '!=' ; LE     : '<=' ; GE     : '>=' ; LT : '<' ; GT : '>' ;

FLOAT  : DIGITS '.' DIGITS EXP? | DIGITS EXP ;
INT    : DIGITS ;
fragment DIGITS : [0-9] ([0-9_]* [0-9])? ;
fragment EXP    : [eE] [+-]? [0-9]+ ;
STRING : '"' (~["\\\r\n] | '\\' .)* '"' ;
IDENT  : [a-zA-Z_] [a-zA-Z_0-9]* ;

LINE_COMMENT  : '#' ~[\r\n]* -> skip ;
BLOCK_COMMENT : '/*' .*? '*/' -> skip ;
WS            : [ \t\r\n]+ -> skip ;
ERROR_CHAR    : . ;
