package org.tessera.dsl.sema;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tessera.dsl.ast.Ast;
import org.tessera.dsl.diag.Diagnostics;

/**
 * A root file and everything it imports: the block, alias and pipeline declarations by name.
 *
 * @param root the file that was compiled
 * @param files every loaded file, root first
 * @param blocks block and model declarations by name
 * @param aliases {@code model X = Y(...)} configurations by name
 * @param pipelines the root file's pipelines, in order
 * @param diagnostics everything found so far
 */
public record Program(
        Ast.SourceFile root,
        List<Ast.SourceFile> files,
        Map<String, Ast.BlockDecl> blocks,
        Map<String, Ast.AliasDecl> aliases,
        List<Ast.PipelineDecl> pipelines,
        Diagnostics diagnostics) {

    static Program index(Ast.SourceFile root, List<Ast.SourceFile> files, Diagnostics diagnostics) {
        Map<String, Ast.BlockDecl> blocks = new LinkedHashMap<>();
        Map<String, Ast.AliasDecl> aliases = new LinkedHashMap<>();
        Map<String, org.tessera.dsl.diag.Span> seen = new LinkedHashMap<>();
        for (Ast.SourceFile f : files) {
            for (Ast.Decl d : f.declarations()) {
                String name = switch (d) {
                    case Ast.BlockDecl b -> b.name();
                    case Ast.AliasDecl a -> a.name();
                    default -> null;
                };
                if (name == null) {
                    continue;
                }
                if (seen.containsKey(name)) {
                    diagnostics.error(d.span(), "'" + name + "' is already declared at " + seen.get(name));
                    continue;
                }
                seen.put(name, d.span());
                if (d instanceof Ast.BlockDecl b) {
                    blocks.put(name, b);
                } else if (d instanceof Ast.AliasDecl a) {
                    aliases.put(name, a);
                }
            }
        }
        List<Ast.PipelineDecl> pipelines = root.declarations().stream()
                .filter(Ast.PipelineDecl.class::isInstance)
                .map(Ast.PipelineDecl.class::cast)
                .toList();
        return new Program(root, files, blocks, aliases, pipelines, diagnostics);
    }
}
