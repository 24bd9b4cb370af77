using System.Diagnostics;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Ori.Sockets.Tests.Infrastructure;

namespace Ori.Sockets.Generators.Tests;

/// <summary>
/// What a user does: pack Ori.Sockets and Ori.Sockets.Abstractions (the generator inside the latter), create a
/// fresh `dotnet new web` project, add Ori.Sockets from a folder feed, write a router, build, run and get a
/// routed reply over a WebSocket (the generator ran); add the contracts package too and build again (it still
/// runs once: twice would declare every generated member twice); then add an invalid message and see the
/// build fail with its diagnostic ID.
/// </summary>
public sealed class PackageFlowTests : IDisposable
{
    private static readonly TimeSpan s_commandTimeout = TimeSpan.FromMinutes(4);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "ori-package-flow-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly Dictionary<string, string> _environment;

    public PackageFlowTests()
    {
        Directory.CreateDirectory(_root);
        _environment = new()
        {
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
            ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["UseSharedCompilation"] = "false",
            // A private package folder: the unique version never lands in the user's cache.
            ["NUGET_PACKAGES"] = Path.Combine(_root, "packages"),
        };
    }

    [Fact]
    public async Task Dotnet_add_package_gives_a_working_router_and_compile_time_errors()
    {
        var repository = TestEnvironment.RepositoryRoot;
        var version = $"0.1.0-flow.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
        var feed = Path.Combine(_root, "feed");

        // Pack from a copy of the sources: the solution's own bin/ and obj/ stay untouched while other tests run.
        var copy = Path.Combine(_root, "repo");
        foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json", ".editorconfig" })
        {
            Directory.CreateDirectory(copy);
            File.Copy(Path.Combine(repository, file), Path.Combine(copy, file));
        }

        CopySources(Path.Combine(repository, "src"), Path.Combine(copy, "src"));
        foreach (var project in new[] { "Ori.Sockets.Abstractions", "Ori.Sockets", "Ori.Sockets.Client", "Ori.Sockets.Testing" })
        {
            await RunAsync(copy, "pack", $"src/{project}", "-c", "Release", "-o", feed, $"-p:Version={version}", "--disable-build-servers");
        }

        // The generator ships in one package, Ori.Sockets.Abstractions; Ori.Sockets depends on it with all its
        // assets (analyzers included), and carries no copy of its own.
        using (var package = System.IO.Compression.ZipFile.OpenRead(Path.Combine(feed, $"Ori.Sockets.Abstractions.{version}.nupkg")))
        {
            Assert.Contains(package.Entries, e => e.FullName == "analyzers/dotnet/cs/Ori.Sockets.Generators.dll");
            Assert.Equal(["buildTransitive/Ori.Sockets.Abstractions.targets"], package.Entries.Where(e => e.FullName.StartsWith("build", StringComparison.Ordinal)).Select(e => e.FullName));
        }

        using (var package = System.IO.Compression.ZipFile.OpenRead(Path.Combine(feed, $"Ori.Sockets.{version}.nupkg")))
        {
            Assert.DoesNotContain(package.Entries, e => e.FullName.StartsWith("analyzers/", StringComparison.Ordinal) || e.FullName.StartsWith("build", StringComparison.Ordinal));
            using var nuspec = new StreamReader(package.GetEntry("Ori.Sockets.nuspec")!.Open());
            var dependency = System.Xml.Linq.XDocument.Parse(await nuspec.ReadToEndAsync()).Descendants()
                .Single(e => e.Name.LocalName == "dependency" && (string?)e.Attribute("id") == "Ori.Sockets.Abstractions");
            Assert.Equal("All", (string?)dependency.Attribute("include"));
            Assert.Null(dependency.Attribute("exclude"));
        }

        var app = Path.Combine(_root, "app");
        await RunAsync(_root, "new", "web", "-o", app, "-n", "FlowApp");
        await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="ori-local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        await RunAsync(app, "add", "package", "Ori.Sockets", "--version", version);
        await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), """
            using System.ComponentModel.DataAnnotations;
            using Ori.Sockets;

            var builder = WebApplication.CreateBuilder(args);
            builder.Services.AddOriSockets().AddSocketRouters();
            var app = builder.Build();
            app.MapOriSockets("/ws");
            app.Run();

            [SocketMessage("greet")]
            public sealed partial record Greet([property: StringLength(20)] string Name) : ISocketRequest<Greeting>;

            public sealed record Greeting(string Text);

            public sealed class GreetRouter
            {
                [SocketRoute("greet")]
                public Greeting Hello(Greet greet) => new($"Hello, {greet.Name}!");
            }
            """);
        await RunAsync(app, "build", "-c", "Release", "--disable-build-servers");

        // OriSocketsTypeScriptPath: the build writes the app's TypeScript contracts there, and again only when they change.
        var contracts = Path.Combine(app, "client", "contracts.ts");
        var (_, firstOutput) = await RunRawAsync(app, "build", "-c", "Release", "--disable-build-servers", "-p:OriSocketsTypeScriptPath=client/contracts.ts", "-v", "n");
        Assert.True(File.Exists(contracts), firstOutput);
        var written = await File.ReadAllTextAsync(contracts);
        Assert.Contains("\"greet\": { request: Greet; reply: Greeting };", written, StringComparison.Ordinal);
        Assert.Contains("  /** length 0..20 */\n  name: string;", written, StringComparison.Ordinal);
        var firstWrite = File.GetLastWriteTimeUtc(contracts);
        await Task.Delay(1100);
        await RunAsync(app, "build", "-c", "Release", "--disable-build-servers", "-p:OriSocketsTypeScriptPath=client/contracts.ts");
        Assert.Equal(firstWrite, File.GetLastWriteTimeUtc(contracts));
        var program = await File.ReadAllTextAsync(Path.Combine(app, "Program.cs"));
        await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), program.Replace("public sealed record Greeting(string Text);", "public sealed record Greeting(string Text, int Length = 0);", StringComparison.Ordinal));
        await RunAsync(app, "build", "-c", "Release", "--disable-build-servers", "-p:OriSocketsTypeScriptPath=client/contracts.ts");
        Assert.Contains("length?: number;", await File.ReadAllTextAsync(contracts), StringComparison.Ordinal);

        var port = TestEnvironment.FreePort();
        using (var server = Start(app, "bin/Release/net10.0/FlowApp.dll", $"--urls=http://127.0.0.1:{port}"))
        {
            try
            {
                using var socket = await ConnectAsync(port);
                Assert.Equal("ori.ready", (await ReceiveAsync(socket)).GetProperty("name").GetString());

                await SendAsync(socket, """{"type":"greet","data":{"name":"Ada"},"correlationId":"g1"}""");
                var reply = await ReceiveAsync(socket);
                Assert.Equal("g1", reply.GetProperty("correlationId").GetString());
                Assert.Equal("Hello, Ada!", reply.GetProperty("data").GetProperty("text").GetString());

                await SendAsync(socket, """{"type":"greet","data":{"name":"a name far longer than twenty"},"correlationId":"g2"}""");
                reply = await ReceiveAsync(socket);
                Assert.Equal("validation_failed", reply.GetProperty("error").GetString());
                Assert.Equal("$.data.name", reply.GetProperty("details")[0].GetProperty("path").GetString());
            }
            finally
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
        }

        // The test kit from the feed: the app's own router, run in memory by OriSocketsTestHost, answered through the
        // typed client the kit hands out (packages Ori.Sockets.Testing and Ori.Sockets.Client restored as a user would).
        await RunAsync(app, "add", "package", "Ori.Sockets.Testing", "--version", version);
        await File.WriteAllTextAsync(Path.Combine(app, "SelfTest.cs"), """
            using Ori.Sockets;
            using Ori.Sockets.Testing;

            public static class SelfTest
            {
                public static async Task<int> RunAsync()
                {
                    await using var host = await OriSocketsTestHost.StartAsync(b => b.Services.AddOriSockets().AddSocketRouters(), app => app.MapOriSockets("/ws"));
                    var client = await host.ConnectAsync("/ws");
                    var reply = await client.RequestAsync(new Greet("Ada"));
                    Console.WriteLine("in memory: " + reply.Text);
                    return reply.Text == "Hello, Ada!" ? 0 : 1;
                }
            }
            """);
        var withSelfTest = (await File.ReadAllTextAsync(Path.Combine(app, "Program.cs"))).Replace(
            "using Ori.Sockets;\n", "using Ori.Sockets;\n\nif (args is [\"--self-test\"]) { Environment.Exit(await SelfTest.RunAsync()); }\n", StringComparison.Ordinal);
        await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), withSelfTest);
        await RunAsync(app, "build", "-c", "Release", "--disable-build-servers");
        var (selfTestExit, selfTestOutput) = await RunRawAsync(app, "bin/Release/net10.0/FlowApp.dll", "--self-test");
        Assert.True(selfTestExit == 0, selfTestOutput);
        Assert.Contains("in memory: Hello, Ada!", selfTestOutput, StringComparison.Ordinal);

        // A server that also references the contracts package directly gets the generator from both
        // packages: it must still run once (a second run would declare every generated member twice).
        await RunAsync(app, "add", "package", "Ori.Sockets.Abstractions", "--version", version);
        await RunAsync(app, "build", "-c", "Release", "--disable-build-servers");

        // The generator's errors are errors: '#pragma warning disable' cannot hide them in a real build.
        await File.WriteAllTextAsync(Path.Combine(app, "Bad.cs"), """
            #pragma warning disable ORI007
            using Ori.Sockets;

            [SocketMessage("job.submit")]
            public sealed partial record SubmitJob(object Payload);
            """);
        var (exitCode, output) = await RunRawAsync(app, "build", "-c", "Release", "--disable-build-servers");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("error ORI007", output, StringComparison.Ordinal);
        Assert.Contains("Bad.cs", output, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A build server still holding a file: the temporary folder is left for the OS to clean.
        }
    }

    private static void CopySources(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            var parts = relative.Split(Path.DirectorySeparatorChar);
            if (parts.Contains("bin") || parts.Contains("obj"))
            {
                continue;
            }

            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private async Task RunAsync(string folder, params string[] arguments)
    {
        var (exitCode, output) = await RunRawAsync(folder, arguments);
        Assert.True(exitCode == 0, $"dotnet {string.Join(' ', arguments)} failed ({exitCode}):\n{output}");
    }

    private async Task<(int ExitCode, string Output)> RunRawAsync(string folder, params string[] arguments)
    {
        var start = NewStartInfo(folder, arguments);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(s_commandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} did not finish in {s_commandTimeout}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>
    /// A child's standard input is redirected (and closed once started): xunit.v3 talks to this test
    /// process over its stdin, and a child that inherited it could read the runner's messages.
    /// </summary>
    private ProcessStartInfo NewStartInfo(string folder, string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = folder,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in _environment)
        {
            start.Environment[key] = value;
        }

        return start;
    }

    private Process Start(string folder, params string[] arguments)
    {
        var start = NewStartInfo(folder, arguments);
        var process = Process.Start(start)!;
        process.StandardInput.Close();
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<ClientWebSocket> ConnectAsync(int port)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var socket = new ClientWebSocket();
            try
            {
                await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), CancellationToken.None);
                return socket;
            }
            catch (WebSocketException) when (DateTime.UtcNow < deadline)
            {
                socket.Dispose();
                await Task.Delay(200);
            }
        }
    }

    private static Task SendAsync(ClientWebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task<JsonElement> ReceiveAsync(ClientWebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var buffer = new byte[64 * 1024];
        var count = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(count), timeout.Token);
            count += result.Count;
            if (result.EndOfMessage)
            {
                break;
            }
        }

        return JsonDocument.Parse(buffer.AsMemory(0, count)).RootElement.Clone();
    }
}
