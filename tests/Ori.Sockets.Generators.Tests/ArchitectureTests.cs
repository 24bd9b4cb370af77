using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Generators.Tests;

/// <summary>
/// The runtime's layering and namespace rule (docs/architecture.md), checked on its source with the compiler:
/// every name a file uses is bound, and a type declared in a folder above the file's folder is a violation.
/// </summary>
public sealed class ArchitectureTests
{
    /// <summary>Bottom to top. Telemetry (log messages) is usable from every layer.</summary>
    private static readonly string[] s_layers = ["Telemetry", "Protocol", "Connections", "PubSub", "Routing", "Hosting"];

    // Microsoft.AspNetCore.Hosting: where Kestrel's own ListenOptions extensions (UseHttps) are.
    private static readonly string[] s_registrationNamespaces = ["Microsoft.Extensions.DependencyInjection", "Microsoft.AspNetCore.Builder", "Microsoft.AspNetCore.Hosting"];

    private static readonly Lazy<(CSharpCompilation Compilation, string Root)> s_runtime = new(() =>
    {
        var root = Path.Combine(TestEnvironment.RepositoryRoot, "src", "Ori.Sockets");
        var usings = """
            global using System;
            global using System.Collections.Generic;
            global using System.IO;
            global using System.Linq;
            global using System.Net.Http;
            global using System.Threading;
            global using System.Threading.Tasks;
            """;
        var trees = Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), new CSharpParseOptions(LanguageVersion.Latest), f))
            .Append(CSharpSyntaxTree.ParseText(usings, new CSharpParseOptions(LanguageVersion.Latest), "GlobalUsings.cs"));

        // The platform's assemblies and Ori.Sockets.Abstractions, not Ori.Sockets itself: its types come from the sources.
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase) && Path.GetFileName(p) != "Ori.Sockets.dll")
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create(
            "Ori.Sockets",
            trees,
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));
        return (compilation, root);
    });

    [Fact]
    public void No_folder_of_the_runtime_names_a_type_of_a_folder_above_it()
    {
        var (compilation, root) = s_runtime.Value;
        var violations = new List<string>();
        var bound = 0;
        foreach (var tree in compilation.SyntaxTrees.Where(t => t.FilePath.StartsWith(root, StringComparison.Ordinal)))
        {
            var layer = Layer(root, tree.FilePath);
            var model = compilation.GetSemanticModel(tree);
            foreach (var name in tree.GetRoot().DescendantNodes().OfType<SimpleNameSyntax>())
            {
                var symbol = model.GetSymbolInfo(name).Symbol;
                var type = symbol as INamedTypeSymbol ?? symbol?.ContainingType;
                var declaration = type?.OriginalDefinition.DeclaringSyntaxReferences.FirstOrDefault();
                if (declaration is null || !declaration.SyntaxTree.FilePath.StartsWith(root, StringComparison.Ordinal))
                {
                    continue;
                }

                bound++;
                var used = Layer(root, declaration.SyntaxTree.FilePath);
                if (used > layer)
                {
                    var line = name.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                    violations.Add($"{Path.GetRelativePath(root, tree.FilePath)}:{line} names {type!.Name} ({s_layers[used]})");
                }
            }
        }

        // The check must have seen the runtime's own types, or it proves nothing.
        Assert.True(bound > 500, $"only {bound} references to the runtime's own types were bound");
        Assert.True(violations.Count == 0, "Layering violations:\n" + string.Join('\n', violations.Distinct()));
    }

    [Fact]
    public void Every_type_follows_the_namespace_rule()
    {
        var (compilation, root) = s_runtime.Value;
        var violations = new List<string>();
        foreach (var tree in compilation.SyntaxTrees.Where(t => t.FilePath.StartsWith(root, StringComparison.Ordinal)))
        {
            var folder = s_layers[Layer(root, tree.FilePath)];
            var model = compilation.GetSemanticModel(tree);
            foreach (var declaration in tree.GetRoot().DescendantNodes().OfType<BaseTypeDeclarationSyntax>().Where(d => d.Parent is BaseNamespaceDeclarationSyntax or CompilationUnitSyntax))
            {
                var type = model.GetDeclaredSymbol(declaration)!;
                var ns = type.ContainingNamespace.ToDisplayString();
                var isPublic = type.DeclaredAccessibility == Accessibility.Public;
                var allowed = isPublic
                    ? ns == "Ori.Sockets" || (s_registrationNamespaces.Contains(ns) && type.IsStatic)
                    : ns == $"Ori.Sockets.{folder}";
                if (!allowed)
                {
                    violations.Add($"{Path.GetRelativePath(root, tree.FilePath)}: {(isPublic ? "public" : "internal")} {type.Name} is in {ns}");
                }
            }
        }

        Assert.True(violations.Count == 0, "Namespace rule violations:\n" + string.Join('\n', violations));
    }

    private static int Layer(string root, string file)
    {
        var folder = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar)[0];
        var index = Array.IndexOf(s_layers, folder);
        Assert.True(index >= 0, $"{file} is in no layer folder ({string.Join(", ", s_layers)})");
        return index;
    }
}
