using System.Globalization;
using Microsoft.CodeAnalysis;
using Ori.Sockets.Generators.Tests.Infrastructure;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Generators.Tests;

/// <summary>Every compile-time error: its ID, and the exact span it points at (marked [|like this|]).</summary>
public sealed class DiagnosticTests
{
    private const string Contracts = """
        [SocketMessage("item.add")]
        public sealed partial record AddItem(string Name) : ISocketRequest<ItemAdded>;
        public sealed record ItemAdded(bool Added);
        public sealed record Account(string Id);
        public sealed record Other(string Id);
        public sealed class AccountGuard : ConnectionGuard<Account>
        {
            protected override ValueTask<Account?> AuthenticateAsync(ConnectionGuardContext context) => new(new Account("a"));
        }
        public sealed class NotAGuard { }
        """;

    private static Diagnostic AssertReports(string id, string markup, string? extra = Contracts)
    {
        var (source, span) = GeneratorHarness.Marked(markup);
        var run = extra is null ? GeneratorHarness.Run(source) : GeneratorHarness.Run(source, extra);
        var diagnostics = run.Result.Diagnostics;
        var diagnostic = Assert.Single(diagnostics, d => d.Id == id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal("Source0.cs", Path.GetFileName(diagnostic.Location.SourceTree?.FilePath));
        Assert.Equal(source[span.Start..span.End], source[diagnostic.Location.SourceSpan.Start..diagnostic.Location.SourceSpan.End]);
        Assert.Equal(span, diagnostic.Location.SourceSpan);
        // Nothing else is reported: each mistake gets one clear error, not a cascade.
        Assert.Empty(diagnostics.Where(d => d.Id != id));
        Assert.StartsWith("https://", diagnostic.Descriptor.HelpLinkUri, StringComparison.Ordinal);
        Assert.EndsWith("#" + id.ToLowerInvariant(), diagnostic.Descriptor.HelpLinkUri, StringComparison.Ordinal);
        return diagnostic;
    }

    [Fact]
    public void ORI001_duplicate_route_points_at_the_second_name()
    {
        var d = AssertReports("ORI001", """
            public sealed class A { [SocketRoute("stock.get")] public int Get() => 1; }
            public sealed class B { [SocketRoute([|"stock.get"|])] public int Other() => 2; }
            """);
        Assert.Contains("A.Get", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Contains("B.Other", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("room.join")]
    [InlineData("room.leave")]
    [InlineData("heartbeat")]
    [InlineData("ori.ready")]
    [InlineData("has space")]
    [InlineData("")]
    public void ORI002_invalid_or_reserved_route_name(string name)
    {
        var d = AssertReports("ORI002", $$"""
            public sealed class A { [SocketRoute([|"{{name}}"|])] public int Get() => 1; }
            """);
        Assert.Contains($"'{name}'", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void ORI003_second_message_parameter()
    {
        AssertReports("ORI003", """
            public sealed class A { [SocketRoute("item.add")] public ItemAdded Add(AddItem item, string [|extra|]) => new(true); }
            """);
    }

    [Fact]
    public void ORI003_ref_parameter()
    {
        AssertReports("ORI003", """
            public sealed class A { [SocketRoute("n.set")] public void Set(ref int [|value|]) { } }
            """);
    }

    [Fact]
    public void ORI003_private_handler()
    {
        AssertReports("ORI003", """
            public sealed class A { [SocketRoute("n.get")] private int [|Get|]() => 1; }
            """);
    }

    [Fact]
    public void ORI004_generic_handler()
    {
        AssertReports("ORI004", """
            public sealed class A { [SocketRoute("n.get")] public int [|Get|]<T>() => 1; }
            """);
    }

    [Fact]
    public void ORI005_unsupported_return_type()
    {
        AssertReports("ORI005", """
            public sealed class A { [SocketRoute("n.list")] public [|IAsyncEnumerable<int>|] List() => throw null!; }
            """);
    }

    [Fact]
    public void ORI006_reply_type_disagrees_with_the_contract()
    {
        var d = AssertReports("ORI006", """
            public sealed class A { [SocketRoute("item.add")] public [|string|] Add(AddItem item) => item.Name; }
            """);
        Assert.Contains("ISocketRequest<ItemAdded>", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void ORI006_route_name_disagrees_with_the_message_name()
    {
        AssertReports("ORI006", """
            public sealed class A { [SocketRoute([|"item.insert"|])] public ItemAdded Add(AddItem item) => new(true); }
            """);
    }

    [Theory]
    [InlineData("object", "$.data.payload")]
    [InlineData("IDisposable", "$.data.payload")]
    [InlineData("Action", "$.data.payload")]
    [InlineData("Dictionary<int, string>", "$.data.payload")]
    public void ORI007_member_that_cannot_be_serialized_with_its_path(string type, string path)
    {
        var d = AssertReports("ORI007", $$"""
            [SocketMessage("bad.message")]
            public sealed partial record Bad({{type}} [|Payload|]);
            """, extra: null);
        Assert.Contains(path, d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void ORI007_member_of_a_list_element_points_at_that_member_with_the_path_to_it()
    {
        var d = AssertReports("ORI007", """
            [SocketMessage("bad.message")]
            public sealed partial record Bad(List<Inner> Items);
            public sealed record Inner(object [|Value|]);
            """, extra: null);
        Assert.Contains("$.data.items[].value", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void ORI007_nested_member_points_at_the_nested_member()
    {
        var d = AssertReports("ORI007", """
            [SocketMessage("bad.message")]
            public sealed partial record Bad(Inner Payload);
            public sealed record Inner(IntPtr [|Handle|]);
            """, extra: null);
        Assert.Contains("$.data.payload.handle", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[|Range(1, 5)|]""", "string")]
    [InlineData("""[|StringLength(5)|]""", "int")]
    [InlineData("""[|AllowedValues(1, 2)|]""", "string")]
    [InlineData("""[|Range(10, 1)|]""", "int")]
    [InlineData("""[|RegularExpression("^a$")|]""", "int")]
    [InlineData("""[|MinLength(1)|]""", "bool")]
    public void ORI008_constraint_that_cannot_apply(string attribute, string type)
    {
        AssertReports("ORI008", $$"""
            [SocketMessage("bad.message")]
            public sealed partial record Bad([property: {{attribute}}] {{type}} Value);
            """, extra: null);
    }

    [Fact]
    public void ORI009_regular_expression_that_does_not_compile()
    {
        AssertReports("ORI009", """
            [SocketMessage("bad.message")]
            public sealed partial record Bad([property: RegularExpression([|"[a-"|])] string Code);
            """, extra: null);
    }

    [Fact]
    public void ORI010_connection_guard_that_is_not_a_guard()
    {
        AssertReports("ORI010", """
            [SocketEndpoint(typeof(A)), ConnectionGuard([|typeof(NotAGuard)|])]
            public sealed partial class Socket;
            public sealed class A { [SocketRoute("n.get")] public int Get() => 1; }
            """);
    }

    [Fact]
    public void ORI010_message_guard_that_is_not_a_guard()
    {
        AssertReports("ORI010", """
            public sealed class A { [SocketRoute("n.get"), MessageGuard([|typeof(NotAGuard)|])] public int Get() => 1; }
            """);
    }

    [Fact]
    public void ORI011_endpoint_whose_guard_sets_another_state_type()
    {
        var d = AssertReports("ORI011", """
            [SocketEndpoint(typeof(A)), ConnectionGuard(typeof(AccountGuard))]
            public sealed partial class Socket;
            public sealed class A { [SocketRoute("n.get")] public int Get(SocketContext<Other> [|context|]) => 1; }
            """);
        Assert.Contains("Socket serves A and its connection guards set the state to Account", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void ORI011_router_served_without_guards_cannot_read_a_state()
    {
        var d = AssertReports("ORI011", """
            public sealed class A { [SocketRoute("n.get")] public int Get(SocketContext<Account> [|context|]) => 1; }
            """);
        Assert.Contains("MapOriSockets(pattern)", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void ORI011_a_router_is_checked_against_every_endpoint_that_serves_it()
    {
        // Served by two endpoints: the one whose guard sets Account is fine, the one without guards is not.
        var d = AssertReports("ORI011", """
            [SocketEndpoint(typeof(A)), ConnectionGuard(typeof(AccountGuard))]
            public sealed partial class Members;
            [SocketEndpoint(typeof(A))]
            public sealed partial class Everyone;
            public sealed class A { [SocketRoute("n.get")] public int Get(SocketContext<Account> [|context|]) => 1; }
            """);
        Assert.Contains("Everyone serves A and none of its connection guards", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void A_state_read_as_a_base_type_or_interface_of_the_guard_state_is_accepted()
    {
        var run = GeneratorHarness.Run("""
            public interface IUser { string Id { get; } }
            public sealed record Member(string Id) : IUser;
            public sealed class MemberGuard : ConnectionGuard<Member>
            {
                protected override ValueTask<Member?> AuthenticateAsync(ConnectionGuardContext context) => new(new Member("m"));
            }
            [SocketEndpoint(typeof(A)), ConnectionGuard(typeof(MemberGuard))]
            public sealed partial class Socket;
            public sealed class A { [SocketRoute("n.get")] public string Get(SocketContext<IUser> context) => context.State.Id; }
            """);
        Assert.Empty(run.Result.Diagnostics);
        Assert.Empty(run.Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void ORI012_duplicate_push_message_names()
    {
        AssertReports("ORI012", """
            [SocketMessage("stock.changed")] public sealed partial record StockChanged(int Count);
            [SocketMessage([|"stock.changed"|])] public sealed partial record StockChangedAgain(int Count);
            """, extra: null);
    }

    [Theory]
    [InlineData("public abstract class [|A|]")]
    [InlineData("public sealed class [|A|]<T>")]
    [InlineData("internal static partial class Outer { private sealed class [|A|]")]
    public void ORI013_router_class_that_cannot_be_used(string declaration)
    {
        var close = declaration.Contains("Outer", StringComparison.Ordinal) ? "}" : string.Empty;
        AssertReports("ORI013", $$"""
            {{declaration}} { [SocketRoute("n.get")] public int Get() => 1; } {{close}}
            """);
    }

    [Theory]
    [InlineData("ori.ready")]
    [InlineData("room.join")]
    [InlineData("not valid")]
    public void ORI014_invalid_or_reserved_message_name(string name)
    {
        AssertReports("ORI014", $$"""
            [SocketMessage([|"{{name}}"|])] public sealed partial record Bad(int Count);
            """, extra: null);
    }

    [Fact]
    public void ORI015_message_type_that_is_not_partial()
    {
        AssertReports("ORI015", """
            [SocketMessage("n.changed")] public sealed record [|Changed|](int Count);
            """, extra: null);
    }

    [Fact]
    public void ORI016_message_type_that_cannot_be_created()
    {
        AssertReports("ORI016", """
            [SocketMessage("n.changed")]
            public sealed partial class [|Changed|]
            {
                private Changed(int count) => Count = count;
                public int Count { get; }
            }
            """, extra: null);
    }

    [Fact]
    public void ORI017_connection_guard_on_a_router()
    {
        AssertReports("ORI017", """
            [ConnectionGuard([|typeof(AccountGuard)|])]
            public sealed class A { [SocketRoute("n.get")] public int Get() => 1; }
            """);
    }

    [Fact]
    public void ORI018_endpoint_that_is_not_partial()
    {
        AssertReports("ORI018", """
            [SocketEndpoint(typeof(A))]
            public sealed class [|Socket|];
            public sealed class A { [SocketRoute("n.get")] public int Get() => 1; }
            """);
    }

    [Theory]
    [InlineData("public abstract partial class [|Socket|];")]
    [InlineData("public sealed partial class [|Socket|]<T>;")]
    [InlineData("public sealed partial class [|Socket|](string name);")]
    [InlineData("public static partial class Outer { [SocketEndpoint(typeof(A))] public sealed partial class [|Socket|]; }")]
    public void ORI019_endpoint_that_cannot_be_created(string declaration)
    {
        var attribute = declaration.Contains("Outer", StringComparison.Ordinal) ? string.Empty : "[SocketEndpoint(typeof(A))]";
        AssertReports("ORI019", $$"""
            {{attribute}}
            {{declaration}}
            public sealed class A { [SocketRoute("n.get")] public int Get() => 1; }
            """);
    }

    [Fact]
    public void ORI020_endpoint_that_serves_a_class_without_routes()
    {
        AssertReports("ORI020", """
            [SocketEndpoint(typeof(A), [|typeof(NotAGuard)|])]
            public sealed partial class Socket;
            public sealed class A { [SocketRoute("n.get")] public int Get() => 1; }
            """);
    }

    [Fact]
    public void ORI021_connection_guards_that_set_different_states()
    {
        AssertReports("ORI021", """
            public sealed class OtherGuard : ConnectionGuard<Other>
            {
                protected override ValueTask<Other?> AuthenticateAsync(ConnectionGuardContext context) => new(new Other("o"));
            }
            [SocketEndpoint(typeof(A)), ConnectionGuard(typeof(AccountGuard)), ConnectionGuard([|typeof(OtherGuard)|])]
            public sealed partial class Socket;
            public sealed class A { [SocketRoute("n.get")] public int Get() => 1; }
            """);
    }

    [Fact]
    public void ORI022_async_void_handler()
    {
        AssertReports("ORI022", """
            public sealed class A { [SocketRoute("n.go")] public async [|void|] Go() => await Task.Yield(); }
            """);
    }

    [Fact]
    public void ORI023_two_members_with_one_json_name()
    {
        var d = AssertReports("ORI023", """
            using System.Text.Json.Serialization;
            [SocketMessage("n.x")]
            public sealed partial record X(string Name)
            {
                [JsonPropertyName("name")] public string? [|Alias|] { get; init; }
            }
            """, extra: null);
        Assert.Contains("'name'", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("public sealed partial record [|X|]<T>(T Value);")]
    [InlineData("public abstract partial record [|X|](int Value);")]
    public void ORI024_message_type_that_is_not_concrete(string declaration)
    {
        AssertReports("ORI024", $$"""
            [SocketMessage("n.x")]
            {{declaration}}
            """, extra: null);
    }

    [Theory]
    [InlineData("[RateLimit([|0|])]")]
    [InlineData("[RateLimit([|-2.5|])]")]
    [InlineData("[RateLimit([|double.NaN|])]")]
    [InlineData("[RateLimit([|5|], Burst = 0)]")]
    public void ORI025_rate_limit_that_cannot_apply(string attribute)
    {
        AssertReports("ORI025", $$"""
            public sealed class A { [SocketRoute("n.get")] {{attribute}} public int Get() => 1; }
            """);
    }

    [Theory]
    [InlineData("""[RecoverableTopic([|"no spaces*"|])]""")]
    [InlineData("""[RecoverableTopic([|"a*b"|])]""")]
    [InlineData("""[RecoverableTopic([|""|])]""")]
    [InlineData("""[RecoverableTopic([|"feed*"|], MaxMessages = 0)]""")]
    [InlineData("""[RecoverableTopic([|"feed"|], MaxAgeSeconds = -1)]""")]
    [InlineData("""[RecoverableTopic("feed*"), RecoverableTopic([|"x y"|])]""")]
    public void ORI027_recoverable_topic_that_cannot_apply(string attribute)
    {
        AssertReports("ORI027", $$"""
            {{attribute}}
            public sealed class A { [SocketRoute("n.get")] public int Get() => 1; }
            """);
    }

    [Fact]
    public void ORI026_allow_anonymous_and_authorize_on_one_handler()
    {
        AssertReports("ORI026", """
            using Microsoft.AspNetCore.Authorization;
            public sealed class A { [SocketRoute("n.get"), [|AllowAnonymous|], Authorize] public int Get() => 1; }
            """);
    }

    [Fact]
    public void ORI026_authorize_under_a_routers_allow_anonymous()
    {
        AssertReports("ORI026", """
            using Microsoft.AspNetCore.Authorization;
            [AllowAnonymous]
            public sealed class A { [SocketRoute("n.get"), [|Authorize(Roles = "admin")|]] public int Get() => 1; }
            """);
    }

    [Fact]
    public void ORI026_allow_anonymous_under_an_endpoint_that_requires_authorization()
    {
        var d = AssertReports("ORI026", """
            using Microsoft.AspNetCore.Authorization;
            [Authorize, SocketEndpoint(typeof(A))]
            public sealed partial class Members;
            public sealed class A { [SocketRoute("n.get"), [|AllowAnonymous|]] public int Get() => 1; }
            """);
        Assert.Contains("Members serves it and has [Authorize]", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void Allow_anonymous_on_a_handler_of_a_router_with_authorize_is_the_usual_exception_and_is_accepted()
    {
        var run = GeneratorHarness.Run("""
            using Microsoft.AspNetCore.Authorization;
            [Authorize]
            public sealed class A
            {
                [SocketRoute("n.get")] public int Get() => 1;
                [SocketRoute("n.open"), AllowAnonymous] public int Open() => 2;
            }
            """);
        Assert.Empty(run.Result.Diagnostics);
        Assert.Empty(run.CompilationProblems);
    }

    [Fact]
    public void A_router_diagnostic_is_reported_once_however_many_routes_it_has()
    {
        var run = GeneratorHarness.Run("""
            public abstract class A
            {
                [SocketRoute("n.one")] public int One() => 1;
                [SocketRoute("n.two")] public int Two() => 2;
                [SocketRoute("n.three")] public int Three() => 3;
            }
            """);
        Assert.Single(run.Result.Diagnostics, d => d.Id == "ORI013");
    }

    [Fact]
    public void A_diagnostic_points_at_a_real_source_location()
    {
        // A real source location, so IDEs underline it and pragmas see it (that a pragma cannot hide one of
        // these errors is proven by a real build in PackageFlowTests).
        var (source, _) = GeneratorHarness.Marked("""[SocketMessage([|"ori.x"|])] public sealed partial record Bad(int Count);""");
        var run = GeneratorHarness.Run(source);
        Assert.True(Assert.Single(run.Result.Diagnostics).Location.IsInSource);
    }

    [Fact]
    public void Every_diagnostic_has_a_documented_section_with_a_wrong_and_a_fixed_example()
    {
        var descriptors = typeof(Diagnostics.DiagnosticDescriptors)
            .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Select(f => (DiagnosticDescriptor)f.GetValue(null)!)
            .ToList();
        Assert.Equal(27, descriptors.Count);
        Assert.All(descriptors, d => Assert.Contains(WellKnownDiagnosticTags.NotConfigurable, d.CustomTags));
        Assert.Equal(descriptors.Count, descriptors.Select(d => d.Id).Distinct().Count());

        var docs = File.ReadAllText(Path.Combine(TestEnvironment.RepositoryRoot, "docs", "diagnostics.md"));
        foreach (var descriptor in descriptors)
        {
            var heading = $"## {descriptor.Id}\n";
            var start = docs.IndexOf(heading, StringComparison.Ordinal);
            Assert.True(start >= 0, $"docs/diagnostics.md has no section for {descriptor.Id}");
            var end = docs.IndexOf("\n## ", start + heading.Length, StringComparison.Ordinal);
            var section = end < 0 ? docs[start..] : docs[start..end];
            Assert.Contains(descriptor.Title.ToString(CultureInfo.InvariantCulture), section, StringComparison.Ordinal);
            Assert.Contains("// Wrong", section, StringComparison.Ordinal);
            Assert.Contains("// Fixed", section, StringComparison.Ordinal);
        }
    }
}
