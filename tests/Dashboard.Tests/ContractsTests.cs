using System.Diagnostics;
using System.Net;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>
/// The Dashboard's contracts for other languages, generated at build time and served by the app, compiled with the
/// browser client as a user gets it: <c>npm pack</c> of its folder, installed into a scratch TypeScript project.
/// </summary>
public sealed class ContractsTests : IAsyncLifetime
{
    private readonly string _project = Directory.CreateTempSubdirectory("ori-contracts-").FullName;
    private DashboardServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await DashboardServer.StartAsync();
        var client = Path.Combine(TestEnvironment.RepositoryRoot, "src", "browser-client");
        var (packed, packOutput) = await NodeTools.RunAsync("npm", client, "pack", "--pack-destination", _project, "--silent");
        Assert.True(packed == 0, packOutput);
        var tarball = Path.Combine(_project, packOutput.Trim().Split('\n')[^1].Trim());
        Assert.True(File.Exists(tarball), packOutput);
        await File.WriteAllTextAsync(Path.Combine(_project, "package.json"), """{ "name": "scratch", "private": true, "type": "module" }""");
        var (installed, installOutput) = await NodeTools.RunAsync("npm", _project, "install", "--offline", "--no-audit", "--no-fund", "--silent", tarball);
        Assert.True(installed == 0, installOutput);
        Assert.True(File.Exists(Path.Combine(_project, "node_modules", "ori-sockets-client", "package.json")), installOutput);
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_project, recursive: true);
    }

    [Fact]
    public async Task The_TypeScript_module_describes_every_message_route_and_push()
    {
        using var response = await _server.Http.GetAsync(new Uri("/_ori/contracts.ts", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("application/typescript", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        var module = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        TestContext.Current.TestOutputHelper?.WriteLine(module);

        // The contract assembly's messages, as the serializer reads them.
        Assert.Contains("export interface PresenceUpdate {", module, StringComparison.Ordinal);
        Assert.Contains("  status: \"active\" | \"idle\" | \"away\";", module, StringComparison.Ordinal);
        Assert.Contains("  monitors?: TopicPosition | null;", module, StringComparison.Ordinal);
        Assert.Contains("  \"subscribe.project\": { request: SubscribeProject; reply: ProjectSubscribed };", module, StringComparison.Ordinal);
        Assert.Contains("  \"incident.created\": IncidentCreated;", module, StringComparison.Ordinal);
        Assert.DoesNotContain("\"presence.update\": PresenceUpdate", module, StringComparison.Ordinal);
        Assert.DoesNotContain("| null | null", module, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_TypeScript_module_compiles_and_its_types_reject_what_the_server_would_refuse()
    {
        var module = await _server.Http.GetStringAsync(new Uri("/_ori/contracts.ts", UriKind.Relative), TestContext.Current.CancellationToken);
        const string Good = """
            import type { Routes, Pushes } from "./contracts";
            const update: Routes["presence.update"]["request"] = { status: "idle" };
            const subscribe: Routes["subscribe.project"]["request"] = { projectId: "web", incidents: { epoch: "e", offset: 3 } };
            const reply: Routes["subscribe.project"]["reply"] = { subscribed: true, projectId: "web",
              monitors: { topic: "m", recovered: false, epoch: "e", offset: 0 }, incidents: { topic: "i", recovered: true, epoch: "e", offset: 3 } };
            const push: Pushes["incident.created"] = { id: "1", title: "t", severity: "low", monitorId: "m" };
            export { update, subscribe, reply, push };
            """;
        Assert.Equal(0, (await CompileAsync(module, Good)).Exit);

        // A value outside the allowed ones, a misspelled member, a wrong type, an unknown route: each is an error.
        foreach (var bad in new[]
        {
            """const x: Routes["presence.update"]["request"] = { status: "busy" };""",
            """const x: Routes["presence.update"]["request"] = { staus: "idle" };""",
            """const x: Routes["subscribe.project"]["request"] = { projectId: 7 };""",
            """const x: Routes["presence.updat"]["request"] = { status: "idle" };""",
        })
        {
            var (exit, output) = await CompileAsync(module, "import type { Routes } from \"./contracts\";\n" + bad + "\nexport { x };\n");
            Assert.True(exit != 0, $"tsc accepted: {bad}");
            Assert.Contains("error TS", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_browser_client_typed_with_the_contracts_checks_every_request_and_push_and_works_without_them()
    {
        var module = await _server.Http.GetStringAsync(new Uri("/_ori/contracts.ts", UriKind.Relative), TestContext.Current.CancellationToken);
        const string Head = """
            import { OriSocketClient } from "ori-sockets-client";
            import type { Routes, Pushes } from "./contracts";
            const client = new OriSocketClient<Routes, Pushes>("ws://127.0.0.1/ws");

            """;
        const string Good = Head + """
            export async function run(): Promise<void> {
              const ack = await client.request("presence.update", { status: "idle" });
              const updated: boolean = ack.updated;
              const subscribed = await client.request("subscribe.project", { projectId: "web", incidents: client.position("incidents:acme:web") ?? null });
              const offset: number = subscribed.incidents.offset;
              client.send("presence.update", { status: "away" });
              client.on("incident.created", (incident) => { const title: string = incident.title; });
              // Without the contracts: any name, unknown data.
              const untyped = new OriSocketClient("ws://127.0.0.1/ws");
              const anything: unknown = await untyped.request("anything.at.all", { any: 1 });
              untyped.on("whatever", (data) => { const seen: unknown = data; });
              console.log(updated, offset, anything);
            }
            """;
        var (goodExit, goodOutput) = await CompileAsync(module, Good);
        Assert.True(goodExit == 0, goodOutput);

        foreach (var bad in new[]
        {
            """export const x = client.request("presence.updat", { status: "idle" });""",
            """export const x = client.request("presence.update", { status: "busy" });""",
            """export const x = client.request("presence.update", { staus: "idle" });""",
            """export const x = client.request("presence.update", { status: "idle" }).then((ack) => { const n: number = ack.updated; return n; });""",
            """export const x = client.on("incident.removed", () => {});""",
            """export const x = client.on("incident.created", (incident) => { const n: number = incident.title; return n; });""",
        })
        {
            var (exit, output) = await CompileAsync(module, Head + bad + "\n");
            Assert.True(exit != 0, $"tsc accepted: {bad}");
            Assert.Contains("error TS", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_AsyncAPI_document_passes_the_official_parser_and_describes_every_route_and_push()
    {
        using var response = await _server.Http.GetAsync(new Uri("/_ori/asyncapi.json", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var document = System.Text.Json.JsonDocument.Parse(text).RootElement;
        Assert.Equal("3.0.0", document.GetProperty("asyncapi").GetString());
        Assert.Equal(_server.HttpUri.Authority, document.GetProperty("servers").GetProperty("app").GetProperty("host").GetString());
        Assert.Equal("ws", document.GetProperty("servers").GetProperty("app").GetProperty("protocol").GetString());
        Assert.Equal("/ws", document.GetProperty("channels").GetProperty("socket").GetProperty("address").GetString());
        var operations = document.GetProperty("operations");
        Assert.Equal("send", operations.GetProperty("subscribe.project").GetProperty("action").GetString());
        Assert.Equal(2, operations.GetProperty("subscribe.project").GetProperty("reply").GetProperty("messages").GetArrayLength());
        Assert.Equal("receive", operations.GetProperty("incident.created").GetProperty("action").GetString());
        Assert.Equal("^[A-Za-z0-9_-]+$", Pattern(document, "SubscribeProject", "projectId"));

        var (exit, output) = await CheckAsync(text);
        Assert.True(exit == 0, output);
        Assert.Contains("0 errors", output, StringComparison.Ordinal);

        // The check can fail: a schema the parser must refuse.
        var (badExit, badOutput) = await CheckAsync(text.Replace("\"minLength\":1", "\"minLength\":\"one\"", StringComparison.Ordinal));
        Assert.True(badExit != 0, badOutput);
    }

    private static string? Pattern(System.Text.Json.JsonElement document, string schema, string member)
    {
        var property = document.GetProperty("components").GetProperty("schemas").GetProperty(schema).GetProperty("properties").GetProperty(member);
        return property.TryGetProperty("pattern", out var pattern) ? pattern.GetString()
            : property.GetProperty("allOf").EnumerateArray().Select(p => p.GetProperty("pattern").GetString()).Last()?.Replace("^(?:", "", StringComparison.Ordinal).Replace(")$", "", StringComparison.Ordinal);
    }

    /// <summary>The official parser (@asyncapi/parser, installed by the test script in tests/asyncapi) on a document.</summary>
    private async Task<(int Exit, string Output)> CheckAsync(string document)
    {
        var check = Path.Combine(TestEnvironment.RepositoryRoot, "tests", "asyncapi", "check.mjs");
        Assert.True(Directory.Exists(Path.Combine(TestEnvironment.RepositoryRoot, "tests", "asyncapi", "node_modules", "@asyncapi", "parser")), "run the suite with scripts/test.sh (it runs npm ci in tests/asyncapi).");
        var file = Path.Combine(_project, "asyncapi.json");
        await File.WriteAllTextAsync(file, document);
        return await NodeTools.RunAsync("node", _project, check, file);
    }

    /// <summary>tsc (the browser client's, installed by the test script) on the module and a program in the scratch project, strict, no output.</summary>
    private async Task<(int Exit, string Output)> CompileAsync(string module, string program)
    {
        await File.WriteAllTextAsync(Path.Combine(_project, "contracts.ts"), module);
        await File.WriteAllTextAsync(Path.Combine(_project, "program.ts"), program);
        return await NodeTools.RunAsync("node", _project, NodeTools.Tsc, "--strict", "--noEmit", "--target", "es2022", "--module", "es2022", "--moduleResolution", "bundler", "--lib", "es2022,dom", "program.ts");
    }
}
