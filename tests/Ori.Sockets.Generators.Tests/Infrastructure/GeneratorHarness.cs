using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Ori.Sockets.Generators.Tests.Infrastructure;

/// <summary>Runs the generator in memory over sources compiled against the real Ori.Sockets assemblies.</summary>
internal static class GeneratorHarness
{
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(() =>
    {
        // The test process runs on the same framework a user compiles against: its platform assemblies
        // (ASP.NET Core included, through the framework reference) and Ori.Sockets itself.
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        return [.. paths
            .Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))];
    });

    private const string GlobalUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.Linq;
        global using System.ComponentModel.DataAnnotations;
        global using System.Threading;
        global using System.Threading.Tasks;
        global using Ori.Sockets;
        """;

    public static CSharpCompilation Compile(params string[] sources) =>
        CSharpCompilation.Create(
            "UserApp",
            [CSharpSyntaxTree.ParseText(GlobalUsings, ParseOptions, "GlobalUsings.cs"),
             .. sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, $"Source{i}.cs"))],
            s_references.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(
            [new OriSocketsGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator once; returns its result and the compilation with the generated files.</summary>
    public static GeneratorRun Run(params string[] sources)
    {
        var compilation = Compile(sources);
        var driver = CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics);
        return new GeneratorRun(driver.GetRunResult(), (CSharpCompilation)output, generatorDiagnostics);
    }

    /// <summary>Source with one location marked <c>[|like this|]</c>: the text without the marks, and the marked span.</summary>
    public static (string Source, TextSpan Span) Marked(string markup)
    {
        var start = markup.IndexOf("[|", StringComparison.Ordinal);
        var end = markup.IndexOf("|]", StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, "the source needs one [|marked|] location");
        var source = markup.Remove(end, 2).Remove(start, 2);
        return (source, TextSpan.FromBounds(start, end - 2));
    }
}

/// <summary>What one run of the generator produced.</summary>
internal sealed record GeneratorRun(GeneratorDriverRunResult Result, CSharpCompilation Output, ImmutableArray<Diagnostic> GeneratorDiagnostics)
{
    /// <summary>Generated files, by hint name.</summary>
    public IReadOnlyDictionary<string, string> Files =>
        Result.GeneratedTrees.ToDictionary(t => Path.GetFileName(t.FilePath), t => t.GetText().ToString());

    /// <summary>Errors and warnings of the final compilation (user code plus generated code).</summary>
    public IReadOnlyList<Diagnostic> CompilationProblems =>
        [.. Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning)];
}
