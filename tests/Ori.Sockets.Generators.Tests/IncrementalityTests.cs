using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Ori.Sockets.Generators.Tests.Infrastructure;

namespace Ori.Sockets.Generators.Tests;

/// <summary>The generator re-does nothing an edit did not change, and its models hold no compiler objects.</summary>
public sealed class IncrementalityTests
{
    private static readonly string[] s_steps = [TrackingNames.MessageModels, TrackingNames.RouteModels, TrackingNames.Routers, TrackingNames.EndpointModels, TrackingNames.Dispatcher, TrackingNames.SharedSerializers, TrackingNames.Contracts];

    private static (GeneratorDriver Driver, CSharpCompilation Compilation) FirstRun()
    {
        var compilation = GeneratorHarness.Compile(Sources.Contracts, Sources.Router, Sources.Unrelated);
        var driver = GeneratorHarness.CreateDriver().RunGenerators(compilation);
        return (driver, compilation);
    }

    [Fact]
    public void An_edit_to_an_unrelated_file_leaves_every_step_and_output_cached()
    {
        var (driver, compilation) = FirstRun();
        var unrelated = compilation.SyntaxTrees.Single(t => t.FilePath == "Source2.cs");
        var edited = compilation.ReplaceSyntaxTree(unrelated,
            CSharpSyntaxTree.ParseText(Sources.Unrelated.Replace("UtcNow", "UtcNow.AddSeconds(1)", StringComparison.Ordinal), GeneratorHarness.ParseOptions, "Source2.cs"));

        var result = driver.RunGenerators(edited).GetRunResult().Results.Single();

        foreach (var step in s_steps)
        {
            Assert.True(result.TrackedSteps.ContainsKey(step), $"step {step} was not tracked");
            var reasons = result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
            Assert.NotEmpty(reasons);
            Assert.All(reasons, r => Assert.Contains(r, new[] { IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged }));
        }

        var outputs = result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).ToList();
        Assert.NotEmpty(outputs);
        Assert.All(outputs, o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void An_edit_inside_a_handler_body_keeps_the_dispatcher_output_cached()
    {
        var (driver, compilation) = FirstRun();
        var router = compilation.SyntaxTrees.Single(t => t.FilePath == "Source1.cs");
        var edited = compilation.ReplaceSyntaxTree(router,
            CSharpSyntaxTree.ParseText(Sources.Router.Replace("=> Created;", "=> Created + 1;", StringComparison.Ordinal), GeneratorHarness.ParseOptions, "Source1.cs"));

        var result = driver.RunGenerators(edited).GetRunResult().Results.Single();

        // The route models are re-computed (their file changed) but compare equal, so the table is not rebuilt.
        Assert.All(result.TrackedSteps[TrackingNames.Dispatcher].SelectMany(s => s.Outputs), o =>
            Assert.Contains(o.Reason, new[] { IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged }));
    }

    [Fact]
    public void A_real_change_to_a_route_re_runs_the_dispatcher()
    {
        var (driver, compilation) = FirstRun();
        var router = compilation.SyntaxTrees.Single(t => t.FilePath == "Source1.cs");
        var edited = compilation.ReplaceSyntaxTree(router,
            CSharpSyntaxTree.ParseText(Sources.Router.Replace("\"order.count\"", "\"order.total\"", StringComparison.Ordinal), GeneratorHarness.ParseOptions, "Source1.cs"));

        var result = driver.RunGenerators(edited).GetRunResult().Results.Single();
        Assert.Contains(result.TrackedSteps[TrackingNames.Dispatcher].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains("order.total", result.GeneratedSources.Single(s => s.HintName == "OriSockets.Dispatcher.g.cs").SourceText.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_renamed_message_member_re_writes_the_contracts_and_a_handler_body_edit_does_not()
    {
        var (driver, compilation) = FirstRun();
        var router = compilation.SyntaxTrees.Single(t => t.FilePath == "Source1.cs");
        var bodyEdit = driver.RunGenerators(compilation.ReplaceSyntaxTree(router,
            CSharpSyntaxTree.ParseText(Sources.Router.Replace("=> Created;", "=> Created + 1;", StringComparison.Ordinal), GeneratorHarness.ParseOptions, "Source1.cs")));
        Assert.All(bodyEdit.GetRunResult().Results.Single().TrackedSteps[TrackingNames.Contracts].SelectMany(s => s.Outputs), o =>
            Assert.Contains(o.Reason, new[] { IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged }));

        var contracts = compilation.SyntaxTrees.Single(t => t.FilePath == "Source0.cs");
        var renamed = driver.RunGenerators(compilation.ReplaceSyntaxTree(contracts,
            CSharpSyntaxTree.ParseText(Sources.Contracts.Replace("string Warehouse", "string Depot", StringComparison.Ordinal), GeneratorHarness.ParseOptions, "Source0.cs")));
        var result = renamed.GetRunResult().Results.Single();
        Assert.Contains(result.TrackedSteps[TrackingNames.Contracts].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
        var module = result.GeneratedSources.Single(s => s.HintName == "OriSockets.Contracts.g.cs").SourceText.ToString();
        Assert.Contains("depot: string;", module, StringComparison.Ordinal);
        Assert.DoesNotContain("warehouse: string;", module, StringComparison.Ordinal);
    }

    [Fact]
    public void Models_hold_no_symbols_syntax_or_compilations()
    {
        var (driver, _) = FirstRun();
        var result = driver.GetRunResult().Results.Single();
        foreach (var step in s_steps)
        {
            foreach (var output in result.TrackedSteps[step].SelectMany(s => s.Outputs))
            {
                AssertNoCompilerObjects(output.Value, step, []);
            }
        }
    }

    private static void AssertNoCompilerObjects(object? value, string path, HashSet<object> seen)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum || !seen.Add(value))
        {
            return;
        }

        Assert.False(value is ISymbol or SyntaxNode or Compilation or SemanticModel or SyntaxTree or Location,
            $"{path} holds a {value.GetType().Name}: models must hold only data, or the generator cannot cache");
        if (value is IEnumerable items)
        {
            var i = 0;
            foreach (var item in items)
            {
                AssertNoCompilerObjects(item, $"{path}[{i++}]", seen);
            }

            return;
        }

        for (var type = value.GetType(); type is not null && type != typeof(object); type = type.BaseType)
        {
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                AssertNoCompilerObjects(field.GetValue(value), $"{path}.{field.Name}", seen);
            }
        }
    }
}
