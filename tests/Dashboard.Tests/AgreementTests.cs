using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;
using Dashboard.Contracts;
using Json.Schema;
using Ori.Sockets;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>
/// The three readings of one contract agree: for payloads generated around each Dashboard message's constraints
/// (CsCheck), valid and invalid, the C# generated reader, the generated TypeScript validator (run under Node) and the
/// JSON Schema (JsonSchema.Net) accept and reject exactly the same ones, and the reader and the validator name the same paths.
/// </summary>
public sealed class AgreementTests : IAsyncLifetime
{
    private const int CasesPerMessage = 150;
    private readonly string _project = Directory.CreateTempSubdirectory("ori-agreement-").FullName;
    private DashboardServer _server = null!;

    public async ValueTask InitializeAsync() => _server = await DashboardServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_project, recursive: true);
    }

    [Fact]
    public async Task The_reader_the_TypeScript_validator_and_the_schema_accept_and_reject_the_same_payloads()
    {
        var readers = new Dictionary<string, (Func<byte[], IReadOnlyList<SocketValidationError>?> Read, string Schema, Gen<JsonNode?> Payloads)>
        {
            ["PresenceUpdate"] = (Read(PresenceUpdate.Serializer), PresenceUpdate.JsonSchema, Payloads.Object(("status", Payloads.Status))),
            ["SubscribeProject"] = (Read(SubscribeProject.Serializer), SubscribeProject.JsonSchema,
                Payloads.Object(("projectId", Payloads.ProjectId), ("monitors", Payloads.Position), ("incidents", Payloads.Position))),
            ["CreateIncident"] = (Read(CreateIncident.Serializer), CreateIncident.JsonSchema,
                Payloads.Object(("projectId", Payloads.Text(1, 64)), ("title", Payloads.Text(1, 200)), ("severity", Payloads.Text(1, 32)), ("monitorId", Payloads.Text(1, 64)))),
            ["NotifyUser"] = (Read(NotifyUser.Serializer), NotifyUser.JsonSchema, Payloads.Object(("text", Payloads.Text(1, 500)))),
        };

        // The cases, from a fixed seed (printed, so that a failure can be replayed).
        var seed = (uint)Environment.TickCount64;
        TestContext.Current.TestOutputHelper?.WriteLine($"seed {seed}");
        var pcg = new PCG(seed);
        var cases = new List<(string Message, string Json)>();
        foreach (var (message, (_, _, payloads)) in readers)
        {
            for (var i = 0; i < CasesPerMessage; i++)
            {
                cases.Add((message, payloads.Generate(pcg, null, out _)?.ToJsonString() ?? "null"));
            }
        }

        var typeScript = await ValidateWithTypeScriptAsync(cases);
        var disagreements = new List<string>();
        var accepted = 0;
        for (var i = 0; i < cases.Count; i++)
        {
            var (message, json) = cases[i];
            var (read, schemaText, _) = readers[message];
            var readerErrors = read(Encoding.UTF8.GetBytes(json));
            using var document = JsonDocument.Parse(json);
            var schema = JsonSchema.FromText(schemaText).Evaluate(document.RootElement, new EvaluationOptions { RequireFormatValidation = true }).IsValid;
            var readerPaths = readerErrors?.Select(e => e.Path).Distinct().Order(StringComparer.Ordinal).ToArray() ?? [];
            var validatorPaths = typeScript[i];
            accepted += readerErrors is null ? 1 : 0;
            if ((readerErrors is null) != schema || (readerErrors is null) != (validatorPaths.Length == 0) || !readerPaths.SequenceEqual(validatorPaths))
            {
                disagreements.Add($"{message} {json}: reader {(readerErrors is null ? "accepts" : "rejects " + string.Join(" ", readerPaths))}, schema {(schema ? "accepts" : "rejects")}, TypeScript {(validatorPaths.Length == 0 ? "accepts" : "rejects " + string.Join(" ", validatorPaths))}");
            }
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{cases.Count} payloads, {accepted} valid, {cases.Count - accepted} invalid, {disagreements.Count} disagreements");
        Assert.True(accepted > cases.Count / 10 && accepted < cases.Count * 9 / 10, $"the generated payloads should mix valid and invalid ones ({accepted} of {cases.Count} valid)");
        Assert.True(disagreements.Count == 0, string.Join('\n', disagreements.Take(20)));
    }

    private static Func<byte[], IReadOnlyList<SocketValidationError>?> Read<T>(SocketSerializer<T> serializer) =>
        bytes => serializer.TryDeserialize(bytes, out _, out var errors, root: "$.data") ? null : errors;

    /// <summary>Compiles the served module to JavaScript and runs its validators on every case in one Node process.</summary>
    private async Task<string[][]> ValidateWithTypeScriptAsync(List<(string Message, string Json)> cases)
    {
        var module = await _server.Http.GetStringAsync(new Uri("/_ori/contracts.ts", UriKind.Relative), TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(Path.Combine(_project, "contracts.ts"), module);
        var (compiled, compileOutput) = await NodeTools.RunAsync("node", _project, NodeTools.Tsc, "--strict", "--target", "es2022", "--module", "es2022", "--outDir", "out", "contracts.ts");
        Assert.True(compiled == 0, compileOutput);
        await File.WriteAllTextAsync(Path.Combine(_project, "package.json"), """{ "type": "module" }""");
        await File.WriteAllTextAsync(Path.Combine(_project, "cases.json"), "[" + string.Join(",", cases.Select(c => $$"""{"message":{{JsonSerializer.Serialize(c.Message)}},"data":{{c.Json}}}""")) + "]");
        await File.WriteAllTextAsync(Path.Combine(_project, "validate.mjs"), """
            import * as contracts from "./out/contracts.js";
            import { readFileSync, writeFileSync } from "node:fs";
            const cases = JSON.parse(readFileSync("cases.json", "utf8"));
            const paths = cases.map((c) => [...new Set(contracts["validate" + c.message](c.data).map((e) => e.path))].sort());
            writeFileSync("paths.json", JSON.stringify(paths));
            """);
        var (ran, runOutput) = await NodeTools.RunAsync("node", _project, "validate.mjs");
        Assert.True(ran == 0, runOutput);
        return JsonSerializer.Deserialize<string[][]>(await File.ReadAllTextAsync(Path.Combine(_project, "paths.json")))!
            .Select(p => p.Order(StringComparer.Ordinal).ToArray()).ToArray();
    }

    /// <summary>Payload generators around the constraints: valid values, each bound and one past it, wrong types, null, missing.</summary>
    private static class Payloads
    {
        /// <summary>Stands for a member left out.</summary>
        private static readonly JsonNode s_missing = JsonValue.Create("<missing>");

        private static readonly Gen<JsonNode?> s_wrongType = Gen.OneOf<Func<JsonNode?>>(
            () => JsonValue.Create(5), () => JsonValue.Create(1.5), () => JsonValue.Create(true), () => null, () => new JsonArray(), () => new JsonObject(), () => s_missing)
            .Select(f => f());

        public static Gen<JsonNode?> Status { get; } = Gen.Frequency(
            (6, Gen.OneOf("active", "idle", "away").Select(s => (JsonNode?)JsonValue.Create(s))),
            (3, Gen.OneOf("busy", "", " ", "Active", "idle ").Select(s => (JsonNode?)JsonValue.Create(s))),
            (2, s_wrongType));

        public static Gen<JsonNode?> ProjectId { get; } = Gen.Frequency(
            (6, Word(1, 64)),
            (3, Gen.OneOf("", " ", "a b", "x*y", "line\nbreak", "é", new string('p', 65)).Select(s => (JsonNode?)JsonValue.Create(s))),
            (2, s_wrongType));

        private static Gen<JsonNode?> Offset { get; } = Gen.Frequency(
            (6, Gen.OneOf(0L, 1L, 42L, 9_007_199_254_740_991L).Select(n => (JsonNode?)JsonValue.Create(n))),
            (3, Gen.OneOf<JsonNode?>(JsonValue.Create(-1), JsonValue.Create(2.5), JsonValue.Create("3"))),
            (1, s_wrongType));

        public static Gen<JsonNode?> Position { get; } = Gen.Frequency(
            (4, Object(("epoch", Text(1, 64)), ("offset", Offset))),
            (2, Gen.Const<JsonNode?>(s_missing)),
            (1, Gen.Const<JsonNode?>(() => null)),
            (1, s_wrongType));

        public static Gen<JsonNode?> Text(int min, int max) => Gen.Frequency(
            (6, Gen.Int[min, max].Select(Gen.OneOf('a', 'Z', '7', '-', ' ', 'é', '.'), (n, c) => (JsonNode?)JsonValue.Create("x" + new string(c, Math.Max(0, n - 1))))),
            (3, Gen.OneOf(max + 1, min - 1, 0).Select(n => (JsonNode?)JsonValue.Create(new string('t', Math.Max(0, n))))),
            (1, Gen.OneOf(" ", "   ").Select(s => (JsonNode?)JsonValue.Create(s))),
            (2, s_wrongType));

        private static Gen<JsonNode?> Word(int min, int max) =>
            Gen.Int[min, max].Select(Gen.OneOf('a', 'Z', '7', '-', '_'), (n, c) => (JsonNode?)JsonValue.Create(new string(c, n)));

        private static Gen<List<(string Name, JsonNode? Value)>> All((string Name, Gen<JsonNode?> Value)[] members)
        {
            var all = Gen.Const(() => new List<(string Name, JsonNode? Value)>());
            foreach (var (name, value) in members)
            {
                all = all.Select(value, (list, v) => new List<(string Name, JsonNode? Value)>(list) { (name, v) });
            }

            return all;
        }

        /// <summary>An object of the members (a member generated as missing is left out); sometimes an unknown member too, or not an object at all.</summary>
        public static Gen<JsonNode?> Object(params (string Name, Gen<JsonNode?> Value)[] members) => Gen.Frequency(
            (12, All(members).Select(Gen.Bool, (values, extra) =>
            {
                var o = new JsonObject();
                foreach (var (name, value) in values)
                {
                    if (!ReferenceEquals(value, s_missing))
                    {
                        o[name] = value?.DeepClone();
                    }
                }

                if (extra)
                {
                    o["unknownMember"] = 1;
                }

                return (JsonNode?)o;
            })),
            (1, Gen.OneOf<Func<JsonNode?>>(() => JsonValue.Create(5), () => new JsonArray(), () => JsonValue.Create("text")).Select(f => f())));
    }
}
