namespace Ori.Sockets.Generators.Tests;

/// <summary>
/// Representative user code the tests feed to the generator. The Shop fixture is the same source the runtime's
/// tests compile and run against real servers: one fixture, read here as text.
/// </summary>
internal static class Sources
{
    /// <summary>The Shop fixture's contracts (tests/Fixtures/Shop): messages only, every supported member kind, nested types.</summary>
    public static string Contracts { get; } = Fixture("ShopContracts.cs");

    /// <summary>The Shop fixture's server: two endpoints, two routers, guards, a typed context and every handler shape.</summary>
    public static string Router { get; } = Fixture("ShopRouters.cs");

    /// <summary>A file nothing else depends on: edits to it must not re-run the emit steps.</summary>
    public const string Unrelated = """
        namespace Shop.Server;

        public static class Clock
        {
            public static DateTime Now() => DateTime.UtcNow;
        }
        """;

    private static string Fixture(string name) =>
        File.ReadAllText(Path.Combine(Ori.Sockets.Tests.Infrastructure.TestEnvironment.RepositoryRoot, "tests", "Fixtures", "Shop", name));
}
